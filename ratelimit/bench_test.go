package ratelimit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// fixedClock is a lock-free clock.PassiveClock for benchmarks.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                  { return c.t }
func (c fixedClock) Since(t time.Time) time.Duration { return c.t.Sub(t) }

func benchLimiter(b *testing.B, cfg Config) *Limiter {
	l, err := New(cfg, Deps{Clock: fixedClock{t0}, Jitter: halfJitter, UnpauseKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func reportRate(b *testing.B, decisions int) {
	b.ReportMetric(float64(b.N*decisions)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkSingleKeyDecision is one check-and-spend on one bucket through
// the Source: the core of every limit.
func BenchmarkSingleKeyDecision(b *testing.B) {
	l := benchLimiter(b, Config{Preset: PresetOff})
	lim, _ := newLimit(NewOrdersPerAccount, spec{1 << 30, 1 << 20, time.Hour}, false)
	txns := []txn{{key: "3:12345", lim: lim, cost: 1, mode: modeCheckAndSpend}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := l.spend(ctx, txns); err != nil || !d.allowed {
			b.Fatal("denied", err)
		}
	}
	reportRate(b, 1)
}

// BenchmarkSingleKeyDecisionParallel runs single-key decisions on distinct
// keys from every core, to show that shards do not serialise them.
func BenchmarkSingleKeyDecisionParallel(b *testing.B) {
	l := benchLimiter(b, Config{Preset: PresetOff})
	lim, _ := newLimit(NewOrdersPerAccount, spec{1 << 30, 1 << 20, time.Hour}, false)
	var next atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		txns := []txn{{key: "3:" + itoa(int(next.Add(1))), lim: lim, cost: 1, mode: modeCheckAndSpend}}
		for pb.Next() {
			if d, err := l.spend(ctx, txns); err != nil || !d.allowed {
				b.Fatal("denied", err)
			}
		}
	})
	reportRate(b, 1)
}

// BenchmarkRequestAllowed is the load balancer's per-IP decision.
func BenchmarkRequestAllowed(b *testing.B) {
	l := benchLimiter(b, Config{Limits: nil})
	l.requests.limits[endpointNewOrder], _ = newLimit(0, spec{1 << 30, 1 << 20, time.Hour}, false)
	ip := addr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if err := l.RequestAllowed("/acme/new-order", ip); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, 1)
}

// BenchmarkNewOrderBatch is a whole new-order check for three names under
// one registered domain on the staging preset: the paused check, the
// renewal lookup and a batch of six decisions (new orders, three failed
// authorizations, per domain, exact set), with keys built per call.
func BenchmarkNewOrderBatch(b *testing.B) {
	l := benchLimiter(b, Config{})
	const accounts = 4096
	reqs := make([]NewOrderRequest, accounts)
	for i := range reqs {
		d := "example" + itoa(i) + ".com"
		reqs[i] = NewOrderRequest{AccountID: int64(i + 1),
			Identifiers: []acme.Identifier{{Type: acme.TypeDNS, Value: d}, {Type: acme.TypeDNS, Value: "www." + d},
				{Type: acme.TypeDNS, Value: "api." + d}}}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.NewOrder(ctx, reqs[i%accounts]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, 6)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
