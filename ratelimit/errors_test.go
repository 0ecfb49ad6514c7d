package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// denialCase is one limit driven into a denial: the denied request (after
// its setup), the RetryAfter (retryIn × 1.015) and Boulder's exact detail.
type denialCase struct {
	name      string
	cfg       Config
	deny      func(l *Limiter) error
	wantAfter time.Duration
	want      string
}

// accountDenials are the limits met at new-account and new-order.
func accountDenials() []denialCase {
	ctx := context.Background()
	return []denialCase{{
		name: "NewRegistrationsPerIPAddress",
		deny: func(l *Limiter) error {
			for range 10 {
				_, _ = l.NewAccount(ctx, addr("192.0.2.1"))
			}
			_, err := l.NewAccount(ctx, addr("192.0.2.1"))
			return err
		},
		wantAfter: 1096200 * time.Millisecond,
		want: "too many new registrations (10) from this IP address in the last 3h0m0s, retry after 2026-11-26 12:18:16 UTC: " +
			"see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ip-address",
	}, {
		name: "NewRegistrationsPerIPv6Range",
		deny: func(l *Limiter) error {
			_, _ = l.Exhaust(ctx, NewRegistrationsPerIPv6Range, "2001:db8:1::/48")
			_, err := l.NewAccount(ctx, addr("2001:db8:1::99"))
			return err
		},
		wantAfter: 21924 * time.Millisecond,
		want: "too many new registrations (500) from this /48 subnet of IPv6 addresses in the last 3h0m0s, retry after 2026-11-26 12:00:21 UTC: " +
			"see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ipv6-range",
	}, {
		name: "NewOrdersPerAccount",
		deny: func(l *Limiter) error {
			for i := range 300 {
				_ = order(l, 1, dns("a"+itoa(i)+".example.com")...)
			}
			return order(l, 1, dns("www.example.net")...)
		},
		wantAfter: 36540 * time.Millisecond,
		want: "too many new orders (300) from this account in the last 3h0m0s, retry after 2026-11-26 12:00:36 UTC: " +
			"see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account",
	}, {
		name: "FailedAuthorizationsPerDomainPerAccount",
		deny: func(l *Limiter) error {
			for range 5 {
				_ = l.AuthzFailed(ctx, 1, dns("WWW.example.com")[0])
			}
			return order(l, 1, dns("example.com", "www.example.com")...)
		},
		wantAfter: 730800 * time.Millisecond,
		want: `too many failed authorizations (5) for "www.example.com" in the last 1h0m0s, retry after 2026-11-26 12:12:10 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#authorization-failures-per-identifier-per-account",
	}, {
		name: "FailedAuthorizationsPerDomainPerAccount, IPv6 shows the last group as Boulder does",
		deny: func(l *Limiter) error {
			for range 5 {
				_ = l.AuthzFailed(ctx, 1, ipID("2001:db8::1"))
			}
			return order(l, 1, ipID("2001:db8::1"))
		},
		wantAfter: 730800 * time.Millisecond,
		want: `too many failed authorizations (5) for "1" in the last 1h0m0s, retry after 2026-11-26 12:12:10 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#authorization-failures-per-identifier-per-account",
	}}
}

// certificateDenials are the limits spent at issuance.
func certificateDenials() []denialCase {
	ctx := context.Background()
	perAccount := Config{Preset: PresetProduction, Overrides: []Override{{Limit: CertificatesPerDomainPerAccount,
		Burst: 2, Count: 2, Period: time.Hour, IDs: []OverrideID{{ID: "1"}}}}}
	return []denialCase{{
		name: "CertificatesPerDomain",
		deny: func(l *Limiter) error {
			for i := range 50 {
				_ = l.Issued(ctx, 1, dns("a"+itoa(i)+".example.com"))
			}
			return order(l, 2, dns("new.EXAMPLE.com")...)
		},
		wantAfter: 12277440 * time.Millisecond,
		want: `too many certificates (50) already issued for "example.com" in the last 168h0m0s, retry after 2026-11-26 15:24:37 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
	}, {
		name: "CertificatesPerDomain, IPv4 /32",
		deny: func(l *Limiter) error {
			_, _ = l.Exhaust(ctx, CertificatesPerDomain, "192.0.2.7")
			return order(l, 1, ipID("192.0.2.7"))
		},
		wantAfter: 12277440 * time.Millisecond,
		want: `too many certificates (50) already issued for "192.0.2.7/32" in the last 168h0m0s, retry after 2026-11-26 15:24:37 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
	}, {
		name: "CertificatesPerDomain, IPv6 /64 shows \"/64\" as Boulder does",
		deny: func(l *Limiter) error {
			_, _ = l.Exhaust(ctx, CertificatesPerDomain, "2001:db8:0:1::5")
			return order(l, 1, ipID("2001:db8:0:1::7"))
		},
		wantAfter: 12277440 * time.Millisecond,
		want: `too many certificates (50) already issued for "/64" in the last 168h0m0s, retry after 2026-11-26 15:24:37 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
	}, {
		name: "CertificatesPerDomainPerAccount",
		cfg:  perAccount,
		deny: func(l *Limiter) error {
			_ = l.Issued(ctx, 1, dns("a.example.com"))
			_ = l.Issued(ctx, 1, dns("b.example.com"))
			return order(l, 1, dns("c.example.com")...)
		},
		wantAfter: 1827 * time.Second,
		want: `too many certificates (2) already issued for "example.com" in the last 1h0m0s, retry after 2026-11-26 12:30:27 UTC: ` +
			"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
	}, {
		name: "CertificatesPerFQDNSet",
		deny: func(l *Limiter) error {
			for range 5 {
				_ = l.Issued(ctx, 1, dns("example.com", "www.example.com"))
			}
			return order(l, 1, dns("www.example.com", "example.com")...)
		},
		wantAfter: 122774400 * time.Millisecond,
		want: "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-11-27 22:06:14 UTC: " +
			"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
	}}
}

// TestDenialGolden drives each limit into a denial on the fake clock with
// the jitter pinned at 1.5 % and compares Boulder's exact detail and the
// RetryAfter.
func TestDenialGolden(t *testing.T) {
	for _, tt := range append(accountDenials(), certificateDenials()...) {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Preset == "" {
				cfg.Preset = PresetProduction
			}
			l, _ := newTest(t, cfg)
			err := tt.deny(l)
			e := rateLimited(t, err)
			if limit := LimitOf(err); limit == "" || !strings.HasPrefix(tt.name, limit) {
				t.Errorf("LimitOf = %q, want the limit in %q", limit, tt.name)
			}
			if e.Detail != tt.want {
				t.Errorf("detail\n got: %s\nwant: %s", e.Detail, tt.want)
			}
			if e.RetryAfter != tt.wantAfter {
				t.Errorf("RetryAfter = %s, want %s", e.RetryAfter, tt.wantAfter)
			}
			if e.HTTPStatus() != 429 || e.Status != 0 || len(e.Sub) != 0 {
				t.Errorf("status %d (explicit %d), %d subproblems; want 429 from the type, none", e.HTTPStatus(), e.Status, len(e.Sub))
			}
		})
	}
}

// TestDetailFor pins every format string with fixed arguments.
func TestDetailFor(t *testing.T) {
	const at = "2026-11-27 09:14:03 UTC"
	tests := []struct {
		name Name
		key  string
		want string
	}{
		{NewOrdersPerAccount, "3:12345", "too many new orders (7) from this account in the last 3h0m0s, retry after 2026-11-27 09:14:03 UTC: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"},
		{CertificatesPerDomainPerAccount, "6:12:example.org", `too many certificates (7) already issued for "example.org" in the last 3h0m0s, retry after 2026-11-27 09:14:03 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain`},
		{FailedAuthorizationsForPausingPerDomainPerAccount, "8:1:a.com", "cannot generate error for unknown rate limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name.String(), func(t *testing.T) {
			if got := detailFor(tt.name, tt.key, 7, 3*time.Hour, at); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestRetryAfterJitter checks Boulder's 0–3 % jitter bounds, with the
// extremes pinned and with the real random source.
func TestRetryAfterJitter(t *testing.T) {
	const retryIn = 36 * time.Second
	tests := []struct {
		name     string
		jitter   func() float64
		min, max time.Duration
	}{
		{"no jitter", func() float64 { return 0 }, retryIn, retryIn},
		{"almost full jitter", func() float64 { return 0.999999 }, retryIn + 1079*time.Millisecond, retryIn + 1080*time.Millisecond},
		{"random", nil, retryIn, retryIn + 1080*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTest(t, Config{Preset: PresetProduction})
			l.jitter = tt.jitter
			if l.jitter == nil {
				l.jitter = defaultJitter(t)
			}
			_, _ = l.Exhaust(context.Background(), NewOrdersPerAccount, "1")
			seen := map[time.Duration]bool{}
			for range 200 {
				e := rateLimited(t, order(l, 1, dns("a.example.com")...))
				if e.RetryAfter < tt.min || e.RetryAfter > tt.max {
					t.Fatalf("RetryAfter %s outside [%s, %s]", e.RetryAfter, tt.min, tt.max)
				}
				seen[e.RetryAfter] = true
			}
			if tt.jitter == nil && len(seen) < 100 {
				t.Errorf("only %d distinct Retry-After values in 200 denials: jitter is not random", len(seen))
			}
		})
	}
}

// defaultJitter returns the jitter source New picks when Deps.Jitter is nil.
func defaultJitter(t *testing.T) func() float64 {
	l, err := New(Config{}, Deps{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	return l.jitter
}

func TestPausedDetail(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetProduction, UnpauseBaseURL: "https://portal.example.test/"})
	ctx := context.Background()
	if _, err := l.PauseIdentifiers(ctx, 42, dns("b.example.com", "a.example.com")); err != nil {
		t.Fatal(err)
	}
	err := order(l, 42, dns("B.example.com", "c.example.com", "a.example.com")...)
	e, ok := acme.As(err)
	if !ok || e.Type != acme.RateLimited || e.RetryAfter != 0 || e.HTTPStatus() != 429 {
		t.Fatalf("want 429 rateLimited without RetryAfter, got %#v", err)
	}
	if got := LimitOf(err); got != "FailedAuthorizationsForPausingPerDomainPerAccount" {
		t.Errorf("LimitOf = %q", got)
	}
	const prefix = "Your account is temporarily prevented from requesting certificates for a.example.com, b.example.com " +
		"and possibly others. Please visit: https://portal.example.test/sfe/v1/unpause?jwt="
	token, found := strings.CutPrefix(e.Detail, prefix)
	if !found {
		t.Fatalf("detail\n got: %s\nwant prefix: %s", e.Detail, prefix)
	}
	acct, values, err := l.redeemJWT(token)
	if err != nil || acct != 42 || strings.Join(values, ",") != "a.example.com,b.example.com" {
		t.Fatalf("JWT redeems to %d %v %v", acct, values, err)
	}
}

func TestBusyError(t *testing.T) {
	tests := []struct {
		wait, want time.Duration
	}{
		{50 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{1001 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		e := busyError(tt.wait)
		if e.Type != acme.RateLimited || e.HTTPStatus() != 503 || e.Detail != "Service busy; retry later." || e.RetryAfter != tt.want {
			t.Errorf("busyError(%s) = %+v, want 503 rateLimited, RetryAfter %s", tt.wait, e, tt.want)
		}
	}
	if bodyServiceBusy != `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"Service busy; retry later."}` {
		t.Errorf("load balancer body changed: %s", bodyServiceBusy)
	}
}
