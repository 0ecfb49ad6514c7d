package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// nShards is the number of shards of every table and index in Memory. A
// power of two, so that picking a shard is a mask.
const nShards = 64

// Memory is the in-memory Store, fakeca's default backend. It keeps
// everything in Go maps and loses it when the process exits.
//
// Every table (accounts, orders, authorizations, certificates) and every
// secondary index (account key → account, order key → orders, account →
// orders, authz key → valid authorizations, blocked keys, unfinished orders
// and authorizations) is split into 64 shards, each guarded
// by its own sync.RWMutex: there is no store-wide lock, and unrelated
// accounts, orders and authorizations rarely share one. Objects with an
// int64 ID are sharded by ID; everything else by a hash of its key. IDs come
// from three atomic counters (accounts, orders, authorizations), each
// starting at 1.
//
// Lock order: a goroutine holds at most one shard lock at a time. Every
// operation takes one shard lock, works, and releases it before it takes the
// next, so there is no order between shard locks to get wrong. The only
// other lock is keyChange, which an account key change takes first and holds
// while it takes shard locks one at a time: keyChange, then one shard lock.
// No code holding a shard lock ever takes keyChange. The one piece
// of foreign code that runs under a shard lock is the mutate callback of an
// Update* method: it runs under the write lock of its object's shard, and, as
// the Store contract says, must not block or call back into the store
// (doing so could deadlock on that same shard).
//
// Because an index and the object it points at are never locked together,
// an index entry is a hint: it may briefly point at an object that no longer
// matches it. Every look-up through an index re-reads the object and checks
// it, and entries found stale are dropped then (see index). Account keys are
// the one index that must be exact, because it enforces uniqueness; see
// UpdateAccount for how a key change stays correct with one lock at a time.
//
// Stored values are immutable: an update replaces the stored value with a
// fresh deep copy and never writes into the old one. A reader can therefore
// take a shallow copy under the read lock and deep-copy it after releasing
// the lock.
//
// The zero value is an empty store, ready to use; NewMemory returns one. A
// Memory must not be copied after first use. All methods are safe for
// concurrent use.
type Memory struct {
	accountSeq, orderSeq, authzSeq atomic.Int64

	accounts table[int64, Account]
	orders   table[int64, Order]
	authzs   table[int64, Authorization]
	certs    table[string, Certificate]

	accountKeys keyIndex
	// keyChange serialises KeyID changes of the accounts in a stripe
	// (account ID mod 64); see UpdateAccount.
	keyChange [nShards]paddedMutex
	orderIdx  index
	authzIdx  index
	blocked   [nShards]shard[string, struct{}]
	// unfinishedOrders and unfinishedAuthzs name the objects Unfinished
	// returns.
	unfinishedOrders, unfinishedAuthzs idSet
	// accountOrders names each account's orders for AccountOrders.
	accountOrders ownedIDs
	// revoked lists revoked serials by CRL shard (issuer ID + "/" + shard).
	revoked [nShards]shard[string, map[string]struct{}]
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store. It starts no goroutines and
// needs no closing.
func NewMemory() *Memory { return &Memory{} }

// shard is one lock and the part of a map it guards. The map is created on
// first write, so the zero shard is ready to use.
type shard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
	// Pad to 64 bytes (RWMutex 24 + map 8 + 32) so that neighbouring shards
	// do not share a cache line.
	_ [32]byte
}

// paddedMutex is a sync.Mutex alone on its cache line.
type paddedMutex struct {
	sync.Mutex
	_ [56]byte
}

// record is a stored value and its version. The version starts at 1 and
// grows by one on every write; index entries and the account-key protocol
// use it to tell which state of the object they saw.
type record[T any] struct {
	val T
	ver uint64
}

// table is a sharded map from a key to a record. Callers pick the shard with
// a hash of the key (idHash, strHash).
type table[K comparable, T any] struct {
	shards [nShards]shard[K, *record[T]]
}

func (t *table[K, T]) at(h uint64) *shard[K, *record[T]] {
	return &t.shards[h%nShards]
}

// load returns a shallow copy of the value under k and its version. The copy
// shares slices with the stored value, which nobody writes into; deep-copy
// it before it leaves the package.
func (t *table[K, T]) load(h uint64, k K) (val T, ver uint64, ok bool) {
	s := t.at(h)
	s.mu.RLock()
	r, ok := s.m[k]
	if ok {
		val, ver = r.val, r.ver
	}
	s.mu.RUnlock()
	return val, ver, ok
}

// has reports whether k is stored.
func (t *table[K, T]) has(h uint64, k K) bool {
	s := t.at(h)
	s.mu.RLock()
	_, ok := s.m[k]
	s.mu.RUnlock()
	return ok
}

// insert stores v (which the store must own) under k at version 1 unless k
// is taken, and reports whether it did.
func (t *table[K, T]) insert(h uint64, k K, v T) bool {
	s := t.at(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k]; ok {
		return false
	}
	if s.m == nil {
		s.m = make(map[K]*record[T])
	}
	s.m[k] = &record[T]{val: v, ver: 1}
	return true
}

// remove deletes k.
func (t *table[K, T]) remove(h uint64, k K) {
	s := t.at(h)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// swap replaces the value under k with v (which the store must own) if the
// record is still at version want, and reports whether it did.
func (t *table[K, T]) swap(h uint64, k K, want uint64, v T) bool {
	s := t.at(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[k]
	if !ok || r.ver != want {
		return false
	}
	r.val, r.ver = v, r.ver+1
	return true
}

// change is what update did: the value before (a shallow copy, read-only),
// the mutated value (owned by the caller) and the record's version after
// the write, or before it if nothing was written.
type change[T any] struct {
	old, cur T
	ver      uint64
	written  bool
}

// update runs mutate on a deep copy of the value under k, under the shard's
// write lock. If mutate fails, nothing is written and its error is
// returned. If hold is non-nil and reports true for the old and mutated
// values, nothing is written either and the caller finishes with swap.
// Otherwise a deep copy of the mutated value replaces the stored one, so
// the mutator cannot reach store memory through anything it kept. ok is
// false if k is not stored.
func (t *table[K, T]) update(h uint64, k K, clone func(T) T, mutate func(*T) error,
	hold func(old, cur *T) bool) (c change[T], ok bool, err error) {
	s := t.at(h)
	s.mu.Lock()
	defer s.mu.Unlock() // also if mutate panics
	r, ok := s.m[k]
	if !ok {
		return c, false, nil
	}
	c = change[T]{old: r.val, cur: clone(r.val), ver: r.ver}
	if err := mutate(&c.cur); err != nil {
		return change[T]{}, true, err
	}
	if hold != nil && hold(&c.old, &c.cur) {
		return c, true, nil
	}
	r.val, r.ver = clone(c.cur), r.ver+1
	c.ver, c.written = r.ver, true
	return c, true, nil
}

// idHash picks the shard of an ID. IDs are sequential, so the low bits
// spread them evenly.
func idHash(id int64) uint64 { return uint64(id) }

// strHash is 64-bit FNV-1a: stable, allocation-free and good enough to
// spread keys over shards (a skewed key set costs contention, not
// correctness).
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// notFound is the error for a missing object of a kind ("order") and ID.
func notFound[K comparable](kind string, id K) error {
	return fmt.Errorf("%s %v: %w", kind, id, ErrNotFound)
}

// updateKeyed applies mutate to the object k of t, refusing a mutator that
// changes the object's key (keyOf); kind names the object in errors.
func updateKeyed[K comparable, T any](t *table[K, T], h uint64, k K, kind string, clone func(T) T,
	keyOf func(*T) K, mutate func(*T) error) (change[T], error) {
	c, ok, err := t.update(h, k, clone, func(v *T) error {
		if err := mutate(v); err != nil {
			return err
		}
		if got := keyOf(v); got != k {
			return errIDChanged(kind, k, got)
		}
		return nil
	}, nil)
	if !ok {
		return c, notFound(kind, k)
	}
	return c, err
}

// errIDChanged is returned when a mutator changes the ID (or serial) of the
// object it was given; nothing is written.
func errIDChanged(kind string, id, got any) error {
	return fmt.Errorf("%s %v: mutate changed its ID to %v", kind, id, got)
}

// BlockKey adds a SubjectPublicKeyInfo hash to the blocked-key list. Adding
// a hash that is already listed is not an error.
func (m *Memory) BlockKey(ctx context.Context, keyHash string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &m.blocked[strHash(keyHash)%nShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]struct{})
	}
	s.m[keyHash] = struct{}{}
	s.mu.Unlock()
	return nil
}

// KeyBlocked reports whether the hash is on the blocked-key list.
func (m *Memory) KeyBlocked(ctx context.Context, keyHash string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s := &m.blocked[strHash(keyHash)%nShards]
	s.mu.RLock()
	_, ok := s.m[keyHash]
	s.mu.RUnlock()
	return ok, nil
}
