package ratelimit

import (
	"context"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Source stores GCRA buckets: one theoretical arrival time (TAT, in Unix
// nanoseconds) per bucket key. It holds nothing else, so a store-backed
// implementation is a two-column table.
//
// Contract, for every implementation:
//   - safe for concurrent use; unrelated keys never wait for one another on
//     a process-wide lock;
//   - a TAT of 0 means "no bucket", which the Limiter treats as a full
//     bucket; so is any TAT not after now, so an implementation may drop
//     such buckets at any time (Boulder's Redis TTL does the same);
//   - methods may block on I/O and must then honour ctx; the Limiter calls
//     them with context.WithoutCancel of the request context, so that a
//     client hanging up cannot leave a batch half-written;
//   - slices passed in are read during the call only and never retained.
//
// ratelimittest.Run checks the contract.
type Source interface {
	// Get stores the TAT of keys[i] in tats[i], or 0 if there is no bucket.
	// len(tats) is len(keys).
	Get(ctx context.Context, keys []string, tats []int64) error
	// CompareAndSwap atomically sets the TAT of every keys[i] to news[i]
	// (0 deletes the bucket), but only if every keys[i] still holds olds[i]
	// (0: absent). It reports whether it wrote; on false nothing changed and
	// the caller re-reads and retries. Keys are distinct.
	CompareAndSwap(ctx context.Context, keys []string, olds, news []int64) (bool, error)
	// Delete removes the buckets; missing keys are ignored.
	Delete(ctx context.Context, keys []string) error
	// List returns every bucket whose TAT is after the given Unix-nanosecond
	// time (the buckets that are not full), in any order.
	List(ctx context.Context, after int64) ([]Bucket, error)
}

// Bucket is one stored bucket: its key ("3:12345") and TAT in Unix
// nanoseconds. Plain data.
type Bucket struct {
	Key string
	TAT int64
}

// memShards is the number of shards of the in-memory source; a power of two
// no larger than 64 (CompareAndSwap keeps a 64-bit mask of shards).
const memShards = 64

// memSource is the in-memory Source: keys hashed over 64 independently
// locked maps. Lock order: shards in ascending index; nothing else is
// locked while a shard lock is held. The zero value is not usable; use
// newMemSource.
type memSource struct {
	shards [memShards]memShard
}

type memShard struct {
	mu sync.Mutex
	m  map[string]int64
}

var _ Source = (*memSource)(nil)

// NewMemorySource returns an empty in-memory Source, the one New uses when
// Deps.Source is nil. Safe for concurrent use; its state dies with it.
func NewMemorySource() Source { return newMemSource() }

func newMemSource() *memSource {
	s := &memSource{}
	for i := range s.shards {
		s.shards[i].m = make(map[string]int64)
	}
	return s
}

// shardOf hashes key with FNV-1a without allocating.
func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h & (memShards - 1))
}

// Get implements Source.
func (s *memSource) Get(_ context.Context, keys []string, tats []int64) error {
	for i, k := range keys {
		sh := &s.shards[shardOf(k)]
		sh.mu.Lock()
		tats[i] = sh.m[k]
		sh.mu.Unlock()
	}
	return nil
}

// CompareAndSwap implements Source. It locks every shard the keys touch, in
// ascending order, compares, then writes.
func (s *memSource) CompareAndSwap(_ context.Context, keys []string, olds, news []int64) (bool, error) {
	var mask uint64
	for _, k := range keys {
		mask |= 1 << shardOf(k)
	}
	s.lock(mask)
	defer s.unlock(mask)
	for i, k := range keys {
		if s.shards[shardOf(k)].m[k] != olds[i] {
			return false, nil
		}
	}
	for i, k := range keys {
		m := s.shards[shardOf(k)].m
		if news[i] == 0 {
			delete(m, k)
		} else {
			m[k] = news[i]
		}
	}
	return true, nil
}

// lock locks the shards whose bits are set, lowest index first.
func (s *memSource) lock(mask uint64) {
	for ; mask != 0; mask &= mask - 1 {
		s.shards[bits.TrailingZeros64(mask)].mu.Lock()
	}
}

func (s *memSource) unlock(mask uint64) {
	for ; mask != 0; mask &= mask - 1 {
		s.shards[bits.TrailingZeros64(mask)].mu.Unlock()
	}
}

// Delete implements Source.
func (s *memSource) Delete(_ context.Context, keys []string) error {
	for _, k := range keys {
		sh := &s.shards[shardOf(k)]
		sh.mu.Lock()
		delete(sh.m, k)
		sh.mu.Unlock()
	}
	return nil
}

// List implements Source. Full buckets found on the way are dropped.
func (s *memSource) List(_ context.Context, after int64) ([]Bucket, error) {
	var out []Bucket
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, tat := range sh.m {
			if tat > after {
				out = append(out, Bucket{Key: k, TAT: tat})
			} else {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Bucket) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// set stores v under key unconditionally (used by the in-memory History).
func (s *memSource) set(key string, v int64) {
	sh := &s.shards[shardOf(key)]
	sh.mu.Lock()
	sh.m[key] = v
	sh.mu.Unlock()
}
