package ratelimit

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// t0 is the fake clock's start in every test.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testKey is the unpause HMAC key of every test Limiter.
var testKey = bytes.Repeat([]byte{7}, 32)

// halfJitter pins the jitter to 1.5 % of retryIn.
func halfJitter() float64 { return 0.5 }

// newTest returns a Limiter on a fake clock at t0 with jitter pinned at
// 1.5 %.
func newTest(t testing.TB, cfg Config) (*Limiter, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	l, err := New(cfg, Deps{Clock: clk, Jitter: halfJitter, UnpauseKey: testKey})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l, clk
}

func dns(names ...string) []acme.Identifier {
	out := make([]acme.Identifier, len(names))
	for i, n := range names {
		out[i] = acme.Identifier{Type: acme.TypeDNS, Value: n}
	}
	return out
}

func ipID(v string) acme.Identifier { return acme.Identifier{Type: acme.TypeIP, Value: v} }

// order calls NewOrder without replaces.
func order(l *Limiter, acct int64, ids ...acme.Identifier) error {
	_, err := l.NewOrder(context.Background(), NewOrderRequest{AccountID: acct, Identifiers: ids})
	return err
}

// mustAllow fails the test if err is not nil.
func mustAllow(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error %v", what, err)
	}
}

// rateLimited returns err as a 429 *acme.Error or fails.
func rateLimited(t testing.TB, err error) *acme.Error {
	t.Helper()
	e, ok := acme.As(err)
	if !ok || e.Type != acme.RateLimited {
		t.Fatalf("want a rateLimited *acme.Error, got %v", err)
	}
	return e
}

// remaining returns the Remaining of the bucket key, or -1 if the bucket is
// full (not listed).
func remaining(t testing.TB, l *Limiter, key string) int64 {
	t.Helper()
	bs, err := l.Buckets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Key == key {
			return b.Remaining
		}
	}
	return -1
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func itoa(i int) string { return strconv.Itoa(i) }

func newFakeClock() *clocktesting.FakeClock { return clocktesting.NewFakeClock(t0) }
