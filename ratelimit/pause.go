package ratelimit

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's pause numbers (sa/sa.go, sa/saro.go, unpause/unpause.go).
const (
	// repauseGrace: an identifier unpaused less than this long ago is not
	// paused again.
	repauseGrace = 14 * 24 * time.Hour
	// maxPausedShown: new-order names at most this many paused identifiers.
	maxPausedShown = 15
	// maxUnpause: one unpause request lifts at most this many pauses
	// (10,000 per batch × 5 batches).
	maxUnpause = 50000
)

// PauseResult is what pausing one identifier did. To add a value: update
// String and the comment of Pauses.Pause.
type PauseResult int

// The outcomes of Pauses.Pause, as Boulder's PauseIdentifiers counts them;
// the zero value is no outcome.
const (
	// Paused: the identifier had never been paused and now is.
	Paused PauseResult = iota + 1
	// Repaused: it had been unpaused more than 14 days ago and is paused again.
	Repaused
	// AlreadyPaused: it was paused; nothing changed.
	AlreadyPaused
	// InGrace: it was unpaused less than 14 days ago; nothing changed.
	InGrace
)

// String names the result for logs ("paused", "repaused", …).
func (r PauseResult) String() string {
	switch r {
	case Paused:
		return "paused"
	case Repaused:
		return "repaused"
	case AlreadyPaused:
		return "already paused"
	case InGrace:
		return "unpaused less than 14 days ago"
	}
	return ""
}

// PausedIdentifier is one pause record: plain data.
type PausedIdentifier struct {
	Account    int64
	Identifier acme.Identifier
	PausedAt   time.Time
	UnpausedAt time.Time // zero while paused
}

// Paused reports whether the record is a current pause. A record whose
// PausedAt is zero (never paused) is not.
func (p PausedIdentifier) Paused() bool {
	return !p.PausedAt.IsZero() && (p.UnpausedAt.IsZero() || p.PausedAt.After(p.UnpausedAt))
}

// Pause applies Boulder's pausing rules (sa/sa.go PauseIdentifiers) to the
// record of one identifier at now: it returns the record to store and the
// outcome. A record with a zero PausedAt is one never paused (set Account
// and Identifier). The record changes only for Paused and Repaused; times
// are truncated to the second, as Boulder stores them. Every Pauses
// implementation decides with it, so that they agree.
func (p PausedIdentifier) Pause(now time.Time) (PausedIdentifier, PauseResult) {
	switch {
	case p.PausedAt.IsZero():
		p.PausedAt, p.UnpausedAt = now.Truncate(time.Second), time.Time{}
		return p, Paused
	case p.Paused():
		return p, AlreadyPaused
	case p.UnpausedAt.After(now.Add(-repauseGrace)):
		return p, InGrace
	}
	p.PausedAt, p.UnpausedAt = now.Truncate(time.Second), time.Time{}
	return p, Repaused
}

// Pauses stores paused identifiers (Boulder's paused table). Implementations
// must be safe for concurrent use and honour ctx where they block; values
// go in and out, nothing is retained or aliased. They decide with
// PausedIdentifier.Pause, and ratelimittest.Run checks them.
type Pauses interface {
	// Pause pauses one identifier of an account at now, unless it is
	// already paused or was unpaused less than 14 days before now (see
	// PausedIdentifier.Pause).
	Pause(ctx context.Context, account int64, id acme.Identifier, now time.Time) (PauseResult, error)
	// Paused returns, in the order given, at most max of ids that are
	// currently paused for the account.
	Paused(ctx context.Context, account int64, ids []acme.Identifier, max int) ([]acme.Identifier, error)
	// Unpause lifts at most max current pauses of the account, recording
	// now as their unpause time, and returns how many it lifted.
	Unpause(ctx context.Context, account int64, now time.Time, max int) (int64, error)
	// List returns every current pause, ordered by account then identifier.
	List(ctx context.Context) ([]PausedIdentifier, error)
}

// memPauses is the in-memory Pauses, sharded by account. Lock order: one
// shard at a time; nothing else is locked while holding it.
type memPauses struct {
	shards [memShards]pauseShard
}

type pauseShard struct {
	mu sync.Mutex
	m  map[int64]map[acme.Identifier]PausedIdentifier
}

var _ Pauses = (*memPauses)(nil)

// NewMemoryPauses returns an empty in-memory Pauses, the one New uses when
// Deps.Pauses is nil. Safe for concurrent use.
func NewMemoryPauses() Pauses {
	p := &memPauses{}
	for i := range p.shards {
		p.shards[i].m = make(map[int64]map[acme.Identifier]PausedIdentifier)
	}
	return p
}

func (p *memPauses) shard(account int64) *pauseShard {
	return &p.shards[uint64(account)%memShards]
}

// Pause implements Pauses with PausedIdentifier.Pause.
func (p *memPauses) Pause(_ context.Context, account int64, id acme.Identifier, now time.Time) (PauseResult, error) {
	sh := p.shard(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ids := sh.m[account]
	if ids == nil {
		ids = make(map[acme.Identifier]PausedIdentifier)
		sh.m[account] = ids
	}
	rec, seen := ids[id]
	if !seen {
		rec = PausedIdentifier{Account: account, Identifier: id}
	}
	rec, res := rec.Pause(now)
	ids[id] = rec
	return res, nil
}

// Paused implements Pauses.
func (p *memPauses) Paused(_ context.Context, account int64, ids []acme.Identifier, limit int) ([]acme.Identifier, error) {
	sh := p.shard(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var out []acme.Identifier
	for _, id := range ids {
		if rec, ok := sh.m[account][id]; ok && rec.Paused() && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

// Unpause implements Pauses.
func (p *memPauses) Unpause(_ context.Context, account int64, now time.Time, limit int) (int64, error) {
	sh := p.shard(account)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var n int64
	for id, rec := range sh.m[account] {
		if n >= int64(limit) {
			break
		}
		if rec.Paused() {
			rec.UnpausedAt = now
			sh.m[account][id] = rec
			n++
		}
	}
	return n, nil
}

// List implements Pauses.
func (p *memPauses) List(context.Context) ([]PausedIdentifier, error) {
	var out []PausedIdentifier
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for _, ids := range sh.m {
			for _, rec := range ids {
				if rec.Paused() {
					out = append(out, rec)
				}
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b PausedIdentifier) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account),
			strings.Compare(string(a.Identifier.Type), string(b.Identifier.Type)),
			strings.Compare(a.Identifier.Value, b.Identifier.Value))
	})
	return out, nil
}
