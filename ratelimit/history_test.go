package ratelimit

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// countingHistory is a History that counts its calls.
type countingHistory struct {
	History
	reads, writes int
}

func (h *countingHistory) LastIssued(ctx context.Context, setHash string) (time.Time, error) {
	h.reads++
	return h.History.LastIssued(ctx, setHash)
}

func (h *countingHistory) RecordIssued(ctx context.Context, setHash string, at time.Time) error {
	h.writes++
	return h.History.RecordIssued(ctx, setHash, at)
}

// TestHistoryOnlyWhenRenewalsMatter: the issuance history is read and
// written only while a limit the renewal exemption lifts is in force
// (with --data-dir every write is a database commit).
func TestHistoryOnlyWhenRenewalsMatter(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int // history reads for one order and one issuance; writes are half
	}{
		{"production preset", Config{Preset: PresetProduction}, 2},
		{"limits off", Config{Preset: PresetOff}, 0},
		{"limits off, exact-set limit only", Config{Preset: PresetOff,
			Limits: []Override{{Limit: CertificatesPerFQDNSet, Burst: 5, Count: 5, Period: time.Hour}}}, 0},
		{"limits off, one override of a lifted limit", Config{Preset: PresetOff,
			Overrides: []Override{ov(CertificatesPerDomain, "example.com")}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &countingHistory{History: NewMemoryHistory()}
			l, err := New(tt.cfg, Deps{Clock: clocktesting.NewFakeClock(t0), History: h, UnpauseKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			mustAllow(t, "order", order(l, 1, dns("www.example.com")...))
			mustAllow(t, "issued", l.Issued(context.Background(), 1, dns("www.example.com")))
			if h.reads != tt.want || h.writes != tt.want/2 {
				t.Errorf("history reads %d, writes %d; want %d and %d", h.reads, h.writes, tt.want, tt.want/2)
			}
		})
	}
}
