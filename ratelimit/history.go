package ratelimit

import (
	"context"
	"time"
)

// renewalWindow is how far back an identical identifier set makes an order
// a renewal (Boulder's FQDNSetTimestampsForWindow with 120 days).
const renewalWindow = 120 * 24 * time.Hour

// History answers Boulder's renewal question: when was a certificate for
// exactly this identifier set last issued, by any account? The Limiter
// feeds it from Issued and asks it in NewOrder and Issued.
//
// Implementations must be safe for concurrent use and honour ctx where they
// block. Set hashes are lowercase hex SHA-256 (see the package doc); an
// implementation may forget entries older than 120 days.
type History interface {
	// LastIssued returns when a certificate for the set was last issued,
	// or the zero time if never (or forgotten).
	LastIssued(ctx context.Context, setHash string) (time.Time, error)
	// RecordIssued notes a certificate for the set issued at at.
	RecordIssued(ctx context.Context, setHash string, at time.Time) error
}

// memHistory is the in-memory History: a sharded map of set hash to the
// last issuance time. Safe for concurrent use.
type memHistory struct{ m *memSource }

var _ History = memHistory{}

// NewMemoryHistory returns an empty in-memory History, the one New uses
// when Deps.History is nil.
func NewMemoryHistory() History { return memHistory{newMemSource()} }

// LastIssued implements History.
func (h memHistory) LastIssued(ctx context.Context, setHash string) (time.Time, error) {
	var v [1]int64
	_ = h.m.Get(ctx, []string{setHash}, v[:])
	if v[0] == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, v[0]).UTC(), nil
}

// RecordIssued implements History.
func (h memHistory) RecordIssued(_ context.Context, setHash string, at time.Time) error {
	h.m.set(setHash, at.UnixNano())
	return nil
}

// isRenewal reports whether the set was issued within the renewal window
// before now (Boulder: issued > now - 120 days).
func isRenewal(last, now time.Time) bool {
	return !last.IsZero() && last.After(now.Add(-renewalWindow))
}
