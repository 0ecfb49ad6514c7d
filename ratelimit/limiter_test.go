package ratelimit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

func bucketKeys(t *testing.T, l *Limiter) []string {
	t.Helper()
	bs, err := l.Buckets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, b := range bs {
		keys = append(keys, b.Key)
	}
	return keys
}

// TestCheckOnlyVersusSpend checks which buckets each call spends (§1.4).
func TestCheckOnlyVersusSpend(t *testing.T) {
	ctx := context.Background()
	setHash := fqdnSetHash(normalize(dns("www.example.com", "example.com")))
	tests := []struct {
		name string
		do   func(l *Limiter)
		want []string // keys of the non-full buckets afterwards
	}{
		{"new-account spends per IP", func(l *Limiter) { _, _ = l.NewAccount(ctx, addr("192.0.2.1")) },
			[]string{"1:192.0.2.1"}},
		{"new-account from IPv6 spends the address and its /48", func(l *Limiter) { _, _ = l.NewAccount(ctx, addr("2001:db8:1:2::3")) },
			[]string{"1:2001:db8:1:2::3", "2:2001:db8:1::/48"}},
		{"IPv4-mapped IPv6 counts as IPv4", func(l *Limiter) { _, _ = l.NewAccount(ctx, addr("::ffff:192.0.2.1")) },
			[]string{"1:192.0.2.1"}},
		{"new-order spends only new orders; the rest are check-only",
			func(l *Limiter) { _ = order(l, 7, dns("www.example.com", "example.com")...) },
			[]string{"3:7"}},
		{"issuance spends per domain and per set, spend-only",
			func(l *Limiter) { _ = l.Issued(ctx, 7, dns("www.example.com", "example.com")) },
			[]string{"5:example.com", "7:" + setHash}},
		{"a failed authorization spends both failure buckets",
			func(l *Limiter) { _ = l.AuthzFailed(ctx, 7, dns("WWW.example.com")[0]) },
			[]string{"4:7:www.example.com", "8:7:www.example.com"}},
		{"a denied order spends nothing", func(l *Limiter) {
			for range 5 {
				_ = l.AuthzFailed(ctx, 7, dns("a.example.com")[0])
			}
			_, _ = l.Reset(ctx, "8:7:a.example.com")
			_ = order(l, 7, dns("a.example.com")...)
		}, []string{"4:7:a.example.com"}},
		{"a refund gives the order back", func(l *Limiter) {
			refund, _ := l.NewOrder(ctx, NewOrderRequest{AccountID: 7, Identifiers: dns("a.example.com")})
			refund()
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTest(t, Config{Preset: PresetProduction})
			tt.do(l)
			if got := bucketKeys(t, l); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("buckets %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSpendOnlyNeverDenies: issuance goes on when its buckets are empty,
// and does not overdraw them.
func TestSpendOnlyNeverDenies(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetProduction})
	ctx := context.Background()
	for i := range 60 {
		if err := l.Issued(ctx, 1, dns("h"+itoa(i)+".example.com")); err != nil {
			t.Fatal(err)
		}
	}
	if got := remaining(t, l, "5:example.com"); got != 0 {
		t.Fatalf("remaining %d", got)
	}
	bs, _ := l.Buckets(ctx)
	for _, b := range bs {
		if b.Key == "5:example.com" && !b.ResetAt.Equal(t0.Add(week)) {
			t.Errorf("overdrawn: resets at %s, want %s", b.ResetAt, t0.Add(week))
		}
	}
}

// TestStrictestWins: with several limits denying, the one that frees up
// last is reported.
func TestStrictestWins(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(l *Limiter)
		want  string // start of the detail
	}{
		{"failed authorizations (12m) beat new orders (36s)", func(l *Limiter) {
			_, _ = l.Exhaust(ctx, NewOrdersPerAccount, "1")
			_, _ = l.Exhaust(ctx, FailedAuthorizationsPerDomainPerAccount, "1:a.example.com")
		}, "too many failed authorizations (5)"},
		{"exact set (33.6h) beats per domain (3.36h)", func(l *Limiter) {
			_, _ = l.Exhaust(ctx, CertificatesPerDomain, "example.com")
			_, _ = l.Exhaust(ctx, CertificatesPerFQDNSet, "a.example.com")
			_, _ = l.Exhaust(ctx, NewOrdersPerAccount, "1")
		}, "too many certificates (5) already issued for this exact set"},
		{"per domain beats new orders", func(l *Limiter) {
			_, _ = l.Exhaust(ctx, NewOrdersPerAccount, "1")
			_, _ = l.Exhaust(ctx, CertificatesPerDomain, "www.example.com")
		}, `too many certificates (50) already issued for "example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTest(t, Config{Preset: PresetProduction})
			tt.setup(l)
			e := rateLimited(t, order(l, 1, dns("a.example.com")...))
			if !strings.HasPrefix(e.Detail, tt.want) {
				t.Errorf("detail %q, want prefix %q", e.Detail, tt.want)
			}
		})
	}
}

func TestRenewalExemptions(t *testing.T) {
	ctx := context.Background()
	set := dns("example.com", "www.example.com")
	tests := []struct {
		name    string
		age     time.Duration // since the set was issued; 0 = never
		req     NewOrderRequest
		exhaust []Name // buckets emptied before the order
		wantErr string // "" = allowed; else start of the detail
	}{
		{name: "renewal skips new orders", age: 24 * time.Hour, exhaust: []Name{NewOrdersPerAccount}},
		{name: "renewal skips per domain", age: 24 * time.Hour, exhaust: []Name{CertificatesPerDomain}},
		{name: "renewal still checks the exact set", age: 24 * time.Hour, exhaust: []Name{CertificatesPerFQDNSet},
			wantErr: "too many certificates (5) already issued for this exact set"},
		{name: "renewal still checks failed authorizations", age: 24 * time.Hour,
			exhaust: []Name{FailedAuthorizationsPerDomainPerAccount}, wantErr: "too many failed authorizations"},
		{name: "day 119 is a renewal", age: 119 * 24 * time.Hour, exhaust: []Name{NewOrdersPerAccount}},
		{name: "120 days is not", age: 120 * 24 * time.Hour, exhaust: []Name{NewOrdersPerAccount},
			wantErr: "too many new orders"},
		{name: "never issued is not", exhaust: []Name{NewOrdersPerAccount}, wantErr: "too many new orders"},
		{name: "same set in another order and case is a renewal", age: time.Hour, exhaust: []Name{NewOrdersPerAccount},
			req: NewOrderRequest{Identifiers: dns("WWW.example.com", "example.com", "www.example.com")}},
		{name: "a subset is not", age: time.Hour, exhaust: []Name{NewOrdersPerAccount},
			req: NewOrderRequest{Identifiers: dns("www.example.com")}, wantErr: "too many new orders"},
		{name: "ARI skips everything", exhaust: []Name{NewOrdersPerAccount, CertificatesPerDomain,
			CertificatesPerFQDNSet, FailedAuthorizationsPerDomainPerAccount}, req: NewOrderRequest{ARIExempt: true}},
		{name: "ARI through the Replaces hook", exhaust: []Name{NewOrdersPerAccount, CertificatesPerFQDNSet},
			req: NewOrderRequest{Replaces: func(context.Context) (bool, error) { return true, nil }}},
		{name: "replaces outside the window falls back to the limits", exhaust: []Name{NewOrdersPerAccount},
			req:     NewOrderRequest{Replaces: func(context.Context) (bool, error) { return false, nil }},
			wantErr: "too many new orders"},
		{name: "replaces outside the window of an exact-set renewal", age: time.Hour, exhaust: []Name{NewOrdersPerAccount},
			req: NewOrderRequest{Replaces: func(context.Context) (bool, error) { return false, nil }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newTest(t, Config{Preset: PresetProduction})
			if tt.age > 0 {
				_ = l.Issued(ctx, 99, set)
				clk.Step(tt.age)
			}
			for _, n := range tt.exhaust {
				id := map[Name]string{NewOrdersPerAccount: "1", CertificatesPerDomain: "example.com",
					CertificatesPerFQDNSet:                  "example.com,www.example.com",
					FailedAuthorizationsPerDomainPerAccount: "1:www.example.com"}[n]
				if _, err := l.Exhaust(ctx, n, id); err != nil {
					t.Fatal(err)
				}
			}
			req := tt.req
			req.AccountID = 1
			if req.Identifiers == nil {
				req.Identifiers = set
			}
			_, err := l.NewOrder(ctx, req)
			if tt.wantErr == "" {
				mustAllow(t, "order", err)
				return
			}
			if e := rateLimited(t, err); !strings.HasPrefix(e.Detail, tt.wantErr) {
				t.Errorf("detail %q, want prefix %q", e.Detail, tt.wantErr)
			}
		})
	}
}

// TestRenewalAtIssuance: a renewal's issuance spends the exact set but not
// the registered domain; ARI orders are exempt at new-order only.
func TestRenewalAtIssuance(t *testing.T) {
	ctx := context.Background()
	l, clk := newTest(t, Config{Preset: PresetProduction})
	set := dns("example.com", "www.example.com")
	_ = l.Issued(ctx, 1, set)
	clk.Step(60 * 24 * time.Hour)
	_ = l.Issued(ctx, 1, set)
	if got := remaining(t, l, "5:example.com"); got != -1 {
		t.Errorf("per-domain bucket spent by a renewal (remaining %d); want untouched (refilled)", got)
	}
	if got := remaining(t, l, "7:"+fqdnSetHash(normalize(set))); got != 4 {
		t.Errorf("exact-set remaining %d, want 4", got)
	}
	// The ARI hook is consulted only after the paused check.
	_, _ = l.PauseIdentifiers(ctx, 1, dns("example.com"))
	called := false
	_, err := l.NewOrder(ctx, NewOrderRequest{AccountID: 1, Identifiers: set,
		Replaces: func(context.Context) (bool, error) { called = true; return true, nil }})
	if rateLimited(t, err).RetryAfter != 0 || called {
		t.Errorf("paused must come first and skip the replaces check (called=%v)", called)
	}
	// A Replaces error comes back unchanged.
	hookErr := acme.New(acme.AlreadyReplaced, "already replaced")
	_, err = l.NewOrder(ctx, NewOrderRequest{AccountID: 2, Identifiers: set,
		Replaces: func(context.Context) (bool, error) { return false, hookErr }})
	if !errors.Is(err, acme.AlreadyReplaced) {
		t.Errorf("got %v, want the hook's error", err)
	}
}

func TestOverrides(t *testing.T) {
	ctx := context.Background()
	one := func(n Name, id string) Override {
		return Override{Limit: n, Burst: 1, Count: 1, Period: time.Hour, IDs: []OverrideID{{ID: id}}}
	}
	tests := []struct {
		name       string
		preset     string
		override   Override
		first      func(l *Limiter) error
		second     func(l *Limiter) error // denied
		unaffected func(l *Limiter) error // allowed
	}{
		{name: "account", override: one(NewOrdersPerAccount, "1"),
			first:      func(l *Limiter) error { return order(l, 1, dns("a.example.com")...) },
			second:     func(l *Limiter) error { return order(l, 1, dns("b.example.com")...) },
			unaffected: func(l *Limiter) error { return order(l, 2, dns("b.example.com")...) }},
		{name: "IP", override: one(NewRegistrationsPerIPAddress, "192.0.2.1"),
			first:      func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("192.0.2.1")); return err },
			second:     func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("192.0.2.1")); return err },
			unaffected: func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("192.0.2.2")); return err }},
		{name: "IPv6 range", override: one(NewRegistrationsPerIPv6Range, "2001:db8:1::/48"),
			first:      func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("2001:db8:1::1")); return err },
			second:     func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("2001:db8:1:ffff::2")); return err },
			unaffected: func(l *Limiter) error { _, err := l.NewAccount(ctx, addr("2001:db8:2::1")); return err }},
		{name: "registered domain", override: one(CertificatesPerDomain, "example.com"),
			first:      func(l *Limiter) error { return l.Issued(ctx, 1, dns("a.example.com")) },
			second:     func(l *Limiter) error { return order(l, 1, dns("b.example.com")...) },
			unaffected: func(l *Limiter) error { return order(l, 1, dns("b.example.net")...) }},
		{name: "identifier set", override: one(CertificatesPerFQDNSet, "b.example.com, A.example.com"),
			first:      func(l *Limiter) error { return l.Issued(ctx, 1, dns("a.example.com", "b.example.com")) },
			second:     func(l *Limiter) error { return order(l, 2, dns("b.example.com", "a.example.com")...) },
			unaffected: func(l *Limiter) error { return order(l, 2, dns("a.example.com")...) }},
		{name: "failed authorizations per account", override: one(FailedAuthorizationsPerDomainPerAccount, "1"),
			first:  func(l *Limiter) error { return l.AuthzFailed(ctx, 1, dns("a.example.com")[0]) },
			second: func(l *Limiter) error { return order(l, 1, dns("a.example.com")...) },
			unaffected: func(l *Limiter) error {
				_ = l.AuthzFailed(ctx, 2, dns("a.example.com")[0])
				return order(l, 2, dns("a.example.com")...)
			}},
		{name: "override enables a limit the preset turns off", preset: PresetOff, override: one(NewOrdersPerAccount, "1"),
			first:      func(l *Limiter) error { return order(l, 1, dns("a.example.com")...) },
			second:     func(l *Limiter) error { return order(l, 1, dns("a.example.com")...) },
			unaffected: func(l *Limiter) error { return order(l, 2, dns("a.example.com")...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			preset := tt.preset
			if preset == "" {
				preset = PresetProduction
			}
			l, _ := newTest(t, Config{Preset: preset, Overrides: []Override{tt.override}})
			mustAllow(t, "first", tt.first(l))
			e := rateLimited(t, tt.second(l))
			if !strings.Contains(e.Detail, "(1)") || !strings.Contains(e.Detail, "in the last 1h0m0s") {
				t.Errorf("denial does not name the override's numbers: %s", e.Detail)
			}
			mustAllow(t, "unaffected", tt.unaffected(l))
		})
	}
}

func TestLimitsReplaceDefaults(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetStaging, Limits: []Override{{Limit: NewOrdersPerAccount, Burst: 2, Count: 2, Period: time.Hour}}})
	for i := range 2 {
		mustAllow(t, "order "+itoa(i), order(l, 1, dns("a.example.com")...))
	}
	e := rateLimited(t, order(l, 1, dns("a.example.com")...))
	if !strings.HasPrefix(e.Detail, "too many new orders (2) from this account in the last 1h0m0s") {
		t.Errorf("detail %s", e.Detail)
	}
}

func TestPresets(t *testing.T) {
	tests := []struct {
		preset string
		want   map[Name]spec
	}{
		{PresetProduction, map[Name]spec{
			NewRegistrationsPerIPAddress: {10, 10, 3 * time.Hour}, NewRegistrationsPerIPv6Range: {500, 500, 3 * time.Hour},
			NewOrdersPerAccount: {300, 300, 3 * time.Hour}, FailedAuthorizationsPerDomainPerAccount: {5, 5, time.Hour},
			CertificatesPerDomain: {50, 50, week}, CertificatesPerFQDNSet: {5, 5, week},
			FailedAuthorizationsForPausingPerDomainPerAccount: {1152, 1, 24 * time.Hour}}},
		{PresetStaging, map[Name]spec{
			NewRegistrationsPerIPAddress: {50, 50, 3 * time.Hour}, NewRegistrationsPerIPv6Range: {500, 500, 3 * time.Hour},
			NewOrdersPerAccount: {1500, 1500, 3 * time.Hour}, FailedAuthorizationsPerDomainPerAccount: {200, 200, time.Hour},
			CertificatesPerDomain: {30000, 30000, week}, CertificatesPerFQDNSet: {30000, 30000, week},
			FailedAuthorizationsForPausingPerDomainPerAccount: {3600, 3600, 6 * time.Hour}}},
		{"", nil}, // zero value is staging, checked below
		{PresetOff, map[Name]spec{}},
	}
	for _, tt := range tests {
		t.Run("preset "+tt.preset, func(t *testing.T) {
			l, _ := newTest(t, Config{Preset: tt.preset})
			want := tt.want
			if tt.preset == "" {
				want = tests[1].want
			}
			for n := Name(1); n < numNames; n++ {
				got, w := l.reg.defaults[n], want[n]
				if (got == nil) != (w == spec{}) || got != nil && (spec{got.burst, got.count, got.period} != w) {
					t.Errorf("%s = %+v, want %+v", n, got, w)
				}
			}
		})
	}
	// Per-endpoint request limits (§1.3): {burst, rate per second}.
	reqs := map[string]map[endpoint][2]int64{
		PresetProduction: {endpointNewNonce: {10, 20}, endpointNewAccount: {15, 5}, endpointNewOrder: {200, 300},
			endpointRevokeCert: {100, 10}, endpointRenewalInfo: {100, 1000}, endpointACME: {125, 250}, endpointDirectory: {40, 40}},
		PresetStaging: {endpointNewNonce: {10, 20}, endpointNewAccount: {15, 5}, endpointNewOrder: {40, 20},
			endpointRevokeCert: {100, 10}, endpointRenewalInfo: {100, 1000}, endpointACME: {20, 20}, endpointDirectory: {40, 40}},
	}
	for preset, want := range reqs {
		got := presetRequestLimits(preset)
		for ep := endpointNewNonce; ep < numEndpoints; ep++ {
			if g := got[ep]; g.Burst != want[ep][0] || g.Count != want[ep][1] || g.Period != time.Second {
				t.Errorf("%s endpoint %d = %+v, want burst %d, %d/s", preset, ep, g, want[ep][0], want[ep][1])
			}
		}
	}
	if l, _ := newTest(t, Config{Preset: PresetOff}); l.requests != nil {
		t.Error("off must not limit requests")
	}
}

// TestConcurrentSpends: with many goroutines racing on one account,
// exactly burst orders get through (compare-and-swap loses no spend).
func TestConcurrentSpends(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetProduction})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if order(l, 1, dns("h"+itoa(g)+"-"+itoa(i)+".example.com")...) == nil {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 300 {
		t.Errorf("%d orders allowed, want exactly 300", allowed.Load())
	}
}

// failingSource fails every call, to show the Limiter fails open.
type failingSource struct{}

func (failingSource) Get(context.Context, []string, []int64) error { return errors.New("down") }
func (failingSource) CompareAndSwap(context.Context, []string, []int64, []int64) (bool, error) {
	return false, errors.New("down")
}
func (failingSource) Delete(context.Context, []string) error        { return errors.New("down") }
func (failingSource) List(context.Context, int64) ([]Bucket, error) { return nil, errors.New("down") }

var _ Source = failingSource{}

func TestFailOpen(t *testing.T) {
	l, err := New(Config{Preset: PresetProduction, Overrides: []Override{{Limit: NewOrdersPerAccount,
		Burst: 1, Count: 1, Period: time.Hour, IDs: []OverrideID{{ID: "1"}}}}},
		Deps{Clock: newFakeClock(), Source: failingSource{}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mustAllow(t, "order with a broken source", order(l, 1, dns("a.example.com")...))
	}
	if err := l.AuthzFailed(context.Background(), 1, dns("a.example.com")[0]); err == nil {
		t.Error("AuthzFailed should report the broken source for the log")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{"no clock", Config{}, Deps{}, "ratelimit: Deps.Clock is required"},
		{"short key", Config{}, Deps{Clock: newFakeClock(), UnpauseKey: []byte("short")}, "ratelimit: Deps.UnpauseKey must be at least 32 bytes, got 5"},
		{"bad config", Config{Preset: "nope"}, Deps{Clock: newFakeClock()}, `rateLimits.preset: unknown preset "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, tt.deps); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestObserver(t *testing.T) {
	type seen struct {
		limit   Name
		allowed bool
	}
	var got []seen
	l, err := New(Config{Preset: PresetProduction}, Deps{Clock: newFakeClock(),
		Observer: func(n Name, ok bool) { got = append(got, seen{n, ok}) }})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = l.Exhaust(context.Background(), CertificatesPerFQDNSet, "a.example.com")
	_ = order(l, 1, dns("a.example.com")...)
	want := []seen{{NewOrdersPerAccount, true}, {FailedAuthorizationsPerDomainPerAccount, true},
		{CertificatesPerDomain, true}, {CertificatesPerFQDNSet, false}}
	if !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

func TestPresetOff(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetOff})
	ctx := context.Background()
	for range 100 {
		mustAllow(t, "order", order(l, 1, dns("a.example.com")...))
		_, err := l.NewAccount(ctx, addr("192.0.2.1"))
		mustAllow(t, "account", err)
		_ = l.AuthzFailed(ctx, 1, dns("a.example.com")[0])
		_ = l.Issued(ctx, 1, dns("a.example.com"))
	}
	if keys := bucketKeys(t, l); len(keys) != 0 {
		t.Errorf("off spends nothing, got %v", keys)
	}
	// Paused identifiers are still refused.
	_, _ = l.PauseIdentifiers(ctx, 1, dns("a.example.com"))
	rateLimited(t, order(l, 1, dns("a.example.com")...))
}

// TestCancelledContext: a client hanging up does not stop a spend.
func TestCancelledContext(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetProduction})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	refund, err := l.NewOrder(ctx, NewOrderRequest{AccountID: 1, Identifiers: dns("a.example.com")})
	mustAllow(t, "order", err)
	if got := remaining(t, l, "3:1"); got != 299 {
		t.Fatalf("remaining %d, want 299", got)
	}
	refund()
	if got := remaining(t, l, "3:1"); got != -1 {
		t.Errorf("refund with a cancelled context: remaining %d", got)
	}
}
