package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/ratelimit"
)

// The rate limiter's state (since format 4), so that limits, pauses and
// unpause links survive a restart as Boulder's Redis and database keep
// them. Each kind has its own bbolt bucket:
//
//	rl-buckets  strKey(bucket key) → TAT, 8 bytes big-endian Unix ns
//	rl-history  strKey(set hash)   → appendTime(last issuance)
//	rl-pauses   pauseKey           → appendTime(paused) appendTime(unpaused)
//
// and the unpause JWT key is the meta key keyUnpause. Writes go through the
// store's group committer like every other write; reads are read-only
// transactions.

// keyUnpause is the meta key holding the unpause JWT key.
const keyUnpause = "unpause-key"

// unpauseKeyLen is the length of a new unpause JWT key.
const unpauseKeyLen = 32

// Buckets is the ratelimit.Source kept in the database: GCRA buckets, one
// TAT per key. CompareAndSwap is one read-write transaction over all its
// keys, so it is atomic and durable when it returns true; List drops the
// full buckets it finds, which the contract allows. Get it from
// Store.Buckets; the zero value is not usable. Safe for concurrent use.
type Buckets struct{ s *Store }

// History is the ratelimit.History kept in the database: the last issuance
// time of each identifier set. It forgets nothing. Get it from
// Store.History; the zero value is not usable. Safe for concurrent use.
type History struct{ s *Store }

// Pauses is the ratelimit.Pauses kept in the database, deciding with
// ratelimit.PausedIdentifier.Pause as the in-memory one does; unpaused
// records are kept for the 14-day grace. Get it from Store.Pauses; the zero
// value is not usable. Safe for concurrent use.
type Pauses struct{ s *Store }

var (
	_ ratelimit.Source  = Buckets{}
	_ ratelimit.History = History{}
	_ ratelimit.Pauses  = Pauses{}
)

// Buckets returns the store's rate-limit buckets.
func (s *Store) Buckets() Buckets { return Buckets{s} }

// History returns the store's issuance history for the renewal exemption.
func (s *Store) History() History { return History{s} }

// Pauses returns the store's paused identifiers.
func (s *Store) Pauses() Pauses { return Pauses{s} }

// UnpauseKey returns the HS256 key of unpause links
// (ratelimit.Deps.UnpauseKey): 32 random bytes made on the first call and
// kept in the database, so that a link survives a restart.
func (s *Store) UnpauseKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		key = bytes.Clone(bucket(tx, bucketMeta).Get([]byte(keyUnpause)))
		return nil
	})
	if err != nil || key != nil {
		return key, err
	}
	fresh := make([]byte, unpauseKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("bolt: unpause key: %w", err)
	}
	err = s.write(ctx, func(tx *bbolt.Tx) error {
		meta := bucket(tx, bucketMeta)
		if v := meta.Get([]byte(keyUnpause)); v != nil { // another caller was first
			key = bytes.Clone(v)
			return nil
		}
		key = fresh
		return meta.Put([]byte(keyUnpause), fresh)
	})
	return key, err
}

// tatAt reads the TAT of key (0 if absent).
func tatAt(b *bbolt.Bucket, key string) (int64, error) {
	v := b.Get(strKey(key))
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	return 0, corrupt("rate-limit bucket", key, fmt.Errorf("%w: %d-byte TAT", errCorrupt, len(v)))
}

// Get implements ratelimit.Source.
func (b Buckets) Get(ctx context.Context, keys []string, tats []int64) error {
	return b.s.read(ctx, func(tx *bbolt.Tx) error {
		bk := bucket(tx, bucketRateBuckets)
		for i, k := range keys {
			tat, err := tatAt(bk, k)
			if err != nil {
				return err
			}
			tats[i] = tat
		}
		return nil
	})
}

// CompareAndSwap implements ratelimit.Source in one transaction.
func (b Buckets) CompareAndSwap(ctx context.Context, keys []string, olds, news []int64) (bool, error) {
	var swapped bool
	err := b.s.write(ctx, func(tx *bbolt.Tx) error {
		swapped = false
		bk := bucket(tx, bucketRateBuckets)
		for i, k := range keys {
			tat, err := tatAt(bk, k)
			if err != nil || tat != olds[i] {
				return err
			}
		}
		for i, k := range keys {
			if err := putTAT(bk, k, news[i]); err != nil {
				return err
			}
		}
		swapped = true
		return nil
	})
	return swapped, err
}

// putTAT stores tat under key, or deletes the bucket if tat is 0.
func putTAT(b *bbolt.Bucket, key string, tat int64) error {
	if tat == 0 {
		return b.Delete(strKey(key))
	}
	return b.Put(strKey(key), binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(tat)))
}

// Delete implements ratelimit.Source. When none of the buckets exists
// (the Limiter resets the consecutive-failures bucket after every
// successful validation, and there seldom is one) it writes nothing.
func (b Buckets) Delete(ctx context.Context, keys []string) error {
	var present bool
	err := b.s.read(ctx, func(tx *bbolt.Tx) error {
		bk := bucket(tx, bucketRateBuckets)
		for _, k := range keys {
			present = present || bk.Get(strKey(k)) != nil
		}
		return nil
	})
	if err != nil || !present {
		return err
	}
	return b.s.write(ctx, func(tx *bbolt.Tx) error {
		bk := bucket(tx, bucketRateBuckets)
		for _, k := range keys {
			if err := bk.Delete(strKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// List implements ratelimit.Source. The full buckets it meets (TAT not
// after after) are then deleted, unless they changed meanwhile: this is
// where the database sheds buckets nobody spends any more.
func (b Buckets) List(ctx context.Context, after int64) ([]ratelimit.Bucket, error) {
	var out []ratelimit.Bucket
	var full []string
	err := b.s.read(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bucketRateBuckets).ForEach(func(k, v []byte) error {
			key := string(k[1:])
			if len(v) != 8 {
				return corrupt("rate-limit bucket", key, fmt.Errorf("%w: %d-byte TAT", errCorrupt, len(v)))
			}
			if tat := int64(binary.BigEndian.Uint64(v)); tat > after {
				out = append(out, ratelimit.Bucket{Key: key, TAT: tat})
			} else {
				full = append(full, key)
			}
			return nil
		})
	})
	if err != nil || len(full) == 0 {
		return out, err
	}
	return out, b.s.write(ctx, func(tx *bbolt.Tx) error {
		bk := bucket(tx, bucketRateBuckets)
		for _, k := range full {
			if tat, err := tatAt(bk, k); err != nil || tat > after {
				continue // spent meanwhile, or left for Get to report
			}
			if err := bk.Delete(strKey(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastIssued implements ratelimit.History.
func (h History) LastIssued(ctx context.Context, setHash string) (time.Time, error) {
	var at time.Time
	err := h.s.read(ctx, func(tx *bbolt.Tx) error {
		v := bucket(tx, bucketRateHistory).Get(strKey(setHash))
		switch len(v) {
		case 0:
		case timeLen:
			at = parseTime(v)
		default:
			return corrupt("issued set", setHash, fmt.Errorf("%w: %d-byte time", errCorrupt, len(v)))
		}
		return nil
	})
	return at, err
}

// RecordIssued implements ratelimit.History.
func (h History) RecordIssued(ctx context.Context, setHash string, at time.Time) error {
	return h.s.write(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bucketRateHistory).Put(strKey(setHash), appendTime(make([]byte, 0, timeLen), at))
	})
}
