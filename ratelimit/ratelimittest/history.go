package ratelimittest

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/ratelimit"
)

func hasHistory(b Backend) bool { return b.History != nil }

func historyTests() []subtest {
	return []subtest{
		{"an unknown set was never issued", hasHistory, historyUnknown},
		{"the last issuance reads back exactly, in UTC", hasHistory, historyRecord},
		{"sets are independent", hasHistory, historyIndependent},
		{"concurrent records are all kept", hasHistory, historyConcurrent},
	}
}

// Set hashes as the Limiter makes them: lowercase hex SHA-256.
const (
	setA = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	setB = "f9e8d7c6b5a4938271605f4e3d2c1b0af9e8d7c6b5a4938271605f4e3d2c1b0a"
)

// wantLast checks LastIssued(set).
func wantLast(t *testing.T, h ratelimit.History, set string, want time.Time) {
	t.Helper()
	got, err := h.LastIssued(t.Context(), set)
	noErr(t, "LastIssued", err)
	if !got.Equal(want) || (!got.IsZero() && got.Location() != time.UTC) {
		t.Errorf("LastIssued(%.8s…) = %s, want %s in UTC", set, got, want)
	}
}

func historyUnknown(t *testing.T, b Backend) {
	wantLast(t, b.History, setA, time.Time{})
}

func historyRecord(t *testing.T, b Backend) {
	h := b.History
	noErr(t, "RecordIssued", h.RecordIssued(t.Context(), setA, base()))
	wantLast(t, h, setA, base())
	noErr(t, "RecordIssued", h.RecordIssued(t.Context(), setA, base().Add(day).In(time.FixedZone("x", 3600))))
	wantLast(t, h, setA, base().Add(day))
}

func historyIndependent(t *testing.T, b Backend) {
	h := b.History
	noErr(t, "RecordIssued", h.RecordIssued(t.Context(), setA, base()))
	noErr(t, "RecordIssued", h.RecordIssued(t.Context(), setB, base().Add(time.Hour)))
	wantLast(t, h, setA, base())
	wantLast(t, h, setB, base().Add(time.Hour))
}

func historyConcurrent(t *testing.T, b Backend) {
	const workers = 8
	h := b.History
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			set := setA[:60] + strconv.Itoa(1000+i)
			if err := h.RecordIssued(t.Context(), set, base().Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
			if _, err := h.LastIssued(t.Context(), setB); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range workers {
		wantLast(t, h, setA[:60]+strconv.Itoa(1000+i), base().Add(time.Duration(i)*time.Second))
	}
}
