package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestGCRASpend(t *testing.T) {
	// 10 per 3h: one token every 18 minutes.
	l, _ := newLimit(NewRegistrationsPerIPAddress, spec{10, 10, 3 * time.Hour}, false)
	const ei = int64(18 * time.Minute)
	now := t0.UnixNano()
	tests := []struct {
		name          string
		tat           int64
		cost          int64
		wantAllowed   bool
		wantRemaining int64
		wantRetryIn   time.Duration
		wantResetIn   time.Duration
	}{
		{"new bucket", 0, 1, true, 9, 0, 18 * time.Minute},
		{"stale TAT is a full bucket", now - int64(time.Hour), 1, true, 9, 0, 18 * time.Minute},
		{"whole burst at once", 0, 10, true, 0, 0, 3 * time.Hour},
		{"cost zero checks a full bucket", 0, 0, true, 10, 0, 0},
		{"one left", now + 9*ei, 1, true, 0, 0, 3 * time.Hour},
		{"empty", now + 10*ei, 1, false, 0, 18 * time.Minute, 3 * time.Hour},
		{"empty, a little refilled", now + 10*ei - int64(time.Minute), 1, false, 0, 17 * time.Minute, 3*time.Hour - time.Minute},
		{"cost 3 with two left", now + 8*ei, 3, false, 2, 18 * time.Minute, 8 * 18 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := gcraSpend(now, l, tt.cost, tt.tat)
			if d.allowed != tt.wantAllowed || d.remaining != tt.wantRemaining ||
				d.retryIn != tt.wantRetryIn || d.resetIn != tt.wantResetIn {
				t.Errorf("got allowed=%v remaining=%d retryIn=%s resetIn=%s, want %v %d %s %s",
					d.allowed, d.remaining, d.retryIn, d.resetIn,
					tt.wantAllowed, tt.wantRemaining, tt.wantRetryIn, tt.wantResetIn)
			}
			if d.allowed && d.newTAT != max(now, tt.tat)+tt.cost*ei {
				t.Errorf("newTAT = %d, want %d", d.newTAT, max(now, tt.tat)+tt.cost*ei)
			}
			if !d.allowed && d.newTAT != max(now, tt.tat) {
				t.Errorf("a denial must not move the TAT")
			}
		})
	}
}

func TestGCRARefund(t *testing.T) {
	l, _ := newLimit(NewOrdersPerAccount, spec{300, 300, 3 * time.Hour}, false)
	const ei = int64(36 * time.Second)
	now := t0.UnixNano()
	tests := []struct {
		name string
		tat  int64
		cost int64
		want int64
	}{
		{"gives one back", now + 3*ei, 1, now + 2*ei},
		{"never above the burst", now + 3*ei, 5, now},
		{"full bucket stays full", now - ei, 1, now - ei},
		{"missing bucket stays missing", 0, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gcraRefund(now, l, tt.cost, tt.tat); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStricter(t *testing.T) {
	allowed5 := decision{allowed: true, remaining: 5}
	allowed2 := decision{allowed: true, remaining: 2}
	denied1m := decision{retryIn: time.Minute}
	denied1h := decision{retryIn: time.Hour}
	denied1hFew := decision{retryIn: time.Hour, remaining: -1}
	tests := []struct {
		name string
		a, b decision
		want decision
	}{
		{"denied beats allowed", allowed5, denied1m, denied1m},
		{"allowed loses either side", denied1m, allowed2, denied1m},
		{"longest retry wins", denied1m, denied1h, denied1h},
		{"longest retry wins either side", denied1h, denied1m, denied1h},
		{"tie: fewest remaining", denied1h, denied1hFew, denied1hFew},
		{"allowed: fewest remaining", allowed5, allowed2, allowed2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stricter(tt.a, tt.b); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestBucketLifecycle drives one bucket through burst, denial, refill and
// refund on the fake clock.
func TestBucketLifecycle(t *testing.T) {
	l, clk := newTest(t, Config{Preset: PresetProduction})
	ctx := context.Background()
	ip := addr("192.0.2.1")
	var refunds []func()
	for i := range 10 {
		refund, err := l.NewAccount(ctx, ip)
		mustAllow(t, "registration "+itoa(i), err)
		refunds = append(refunds, refund)
	}
	e := rateLimited(t, func() error { _, err := l.NewAccount(ctx, ip); return err }())
	if e.RetryAfter < 18*time.Minute {
		t.Fatalf("RetryAfter %s, want >= 18m", e.RetryAfter)
	}
	if got := remaining(t, l, "1:192.0.2.1"); got != 0 {
		t.Fatalf("remaining %d, want 0", got)
	}
	// A refund gives one registration back; calling it twice does not.
	refunds[0]()
	refunds[0]()
	if got := remaining(t, l, "1:192.0.2.1"); got != 1 {
		t.Fatalf("after refund remaining %d, want 1", got)
	}
	_, err := l.NewAccount(ctx, ip)
	mustAllow(t, "after refund", err)
	_, err = l.NewAccount(ctx, ip)
	rateLimited(t, err)
	// 18 minutes refill exactly one.
	clk.Step(18 * time.Minute)
	_, err = l.NewAccount(ctx, ip)
	mustAllow(t, "after refill", err)
	_, err = l.NewAccount(ctx, ip)
	rateLimited(t, err)
	// Three hours refill the whole burst.
	clk.Step(3 * time.Hour)
	if got := remaining(t, l, "1:192.0.2.1"); got != -1 {
		t.Fatalf("bucket should be full (unlisted), remaining %d", got)
	}
}
