package ratelimit

import (
	"math"
	"time"
)

// limit is one limit's parameters with the GCRA values precomputed
// (Boulder's Limit.precompute). Immutable once built; shared freely.
type limit struct {
	name     Name
	burst    int64
	count    int64
	period   time.Duration
	override bool
	ei       int64 // emission interval: period/count, in nanoseconds
	offset   int64 // burst offset: ei*burst, in nanoseconds
}

// newLimit returns the limit or false when the numbers are unusable
// (config validation reports why).
func newLimit(name Name, s spec, override bool) (*limit, bool) {
	if s.Burst <= 0 || s.Count <= 0 || s.Period <= 0 {
		return nil, false
	}
	ei := int64(s.Period) / s.Count
	if ei <= 0 || s.Burst > math.MaxInt64/4/ei {
		return nil, false
	}
	return &limit{name: name, burst: s.Burst, count: s.Count, period: s.Period,
		override: override, ei: ei, offset: ei * s.Burst}, true
}

// decision is the outcome of one transaction, or of a batch (the stricter of
// its transactions). Plain data.
type decision struct {
	allowed   bool
	remaining int64         // requests left after this one
	retryIn   time.Duration // wait before a denied request would be allowed
	resetIn   time.Duration // wait until the bucket is full again
	newTAT    int64         // the bucket's TAT if this decision is persisted
	txn       txn           // the transaction decided (for the 429 text)
}

// allowAll is the decision for a batch of nothing, or of disabled limits.
func allowAll() decision { return decision{allowed: true, remaining: math.MaxInt64} }

// gcraSpend decides whether cost can be spent from a bucket holding tat
// (Unix nanoseconds; 0 or anything in the past means a full bucket) at now.
// It is the Generic Cell Rate Algorithm exactly as Boulder's maybeSpend.
func gcraSpend(now int64, l *limit, cost, tat int64) decision {
	if tat < now {
		tat = now
	}
	newTAT := tat + cost*l.ei
	diff := now - (newTAT - l.offset)
	if diff < 0 {
		return decision{
			remaining: (now - (tat - l.offset)) / l.ei,
			retryIn:   time.Duration(-diff),
			resetIn:   time.Duration(tat - now),
			newTAT:    tat,
		}
	}
	return decision{allowed: true, remaining: diff / l.ei,
		resetIn: time.Duration(newTAT - now), newTAT: newTAT}
}

// gcraRefund returns the TAT after giving cost back to a bucket holding tat
// at now: never earlier than now, so a refund cannot exceed the burst
// (Boulder's maybeRefund).
func gcraRefund(now int64, l *limit, cost, tat int64) int64 {
	if tat <= now {
		return tat // already full
	}
	return max(tat-cost*l.ei, now)
}

// remainingAt returns how many cost-1 requests a bucket holding tat allows
// at now, between 0 and burst.
func remainingAt(now int64, l *limit, tat int64) int64 {
	if tat < now {
		tat = now
	}
	return max(0, min(l.burst, (now-(tat-l.offset))/l.ei))
}

// stricter returns the decision that wins in a batch: the longest retryIn,
// then the fewest remaining (Boulder's stricter). Allowed decisions have a
// zero retryIn, so a denial always beats them.
func stricter(a, b decision) decision {
	if a.retryIn == b.retryIn {
		if a.remaining < b.remaining {
			return a
		}
		return b
	}
	if a.retryIn > b.retryIn {
		return a
	}
	return b
}
