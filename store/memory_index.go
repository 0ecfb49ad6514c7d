package store

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// entry is one object filed in an index: its ID, the version of the object
// it was filed at, and the object's expiry at that version.
type entry struct {
	id  int64
	ver uint64
	exp time.Time
}

// index files orders under their OrderKey and valid authorizations under
// their AuthzKey, so that reuse look-ups read a handful of objects instead
// of scanning. Keys are encoded as strings (orderKey, authzKey).
//
// An index is a hint, never the truth: it is written after the object's own
// shard lock is released, so it can lag behind the object. Look-ups re-read
// every candidate and drop the entries that no longer qualify. Versions keep
// that safe when updates race:
//   - put keeps, per object, the entry with the highest version, so a slow
//     writer cannot replace a newer entry with an older one;
//   - a look-up that saw an object at version v not qualifying drops its
//     entry only if the entry's version is ≤ v; an object that qualified
//     again later was re-filed with a higher version and stays.
//
// The zero value is an empty index. Safe for concurrent use; each method
// holds one shard lock.
type index struct {
	shards [nShards]shard[string, []entry]
}

// put files e under key. Entries of other objects under the key that expire
// at or before created (a time the caller knows has passed: the new object's
// creation) are dropped: no later look-up can want them, which bounds each
// key's list by the objects that are alive at once.
func (x *index) put(key string, e entry, created time.Time) {
	s := &x.shards[strHash(key)%nShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]entry)
	}
	list := s.m[key]
	found := false
	kept := list[:0]
	for _, o := range list {
		switch {
		case o.id == e.id:
			found = true
			if e.ver > o.ver {
				o = e
			}
		case !created.IsZero() && !o.exp.After(created):
			continue
		}
		kept = append(kept, o)
	}
	clear(list[len(kept):])
	if !found {
		kept = append(kept, e)
	}
	s.m[key] = kept
}

// list returns a copy of the entries under key for which keep is true, and
// whether it skipped any.
func (x *index) list(key string, keep func(entry) bool) (out []entry, skipped bool) {
	s := &x.shards[strHash(key)%nShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.m[key] {
		if keep(e) {
			out = append(out, e)
		} else {
			skipped = true
		}
	}
	return out, skipped
}

// drop removes the entries under key for which stale is true.
func (x *index) drop(key string, stale func(entry) bool) {
	s := &x.shards[strHash(key)%nShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[key]
	kept := list[:0]
	for _, e := range list {
		if !stale(e) {
			kept = append(kept, e)
		}
	}
	clear(list[len(kept):])
	if len(kept) == 0 {
		delete(s.m, key)
		return
	}
	s.m[key] = kept
}

// staleSeen reports entries of objects that a look-up saw not qualifying:
// those whose version is at most the version the look-up saw.
func staleSeen(seen []entry) func(entry) bool {
	return func(e entry) bool {
		for _, s := range seen {
			if e.id == s.id && e.ver <= s.ver {
				return true
			}
		}
		return false
	}
}

// orderKey encodes an OrderKey's fields. Identifier values cannot hold a
// NUL; if one did, two keys could share a string, which costs a wasted read
// (look-ups re-check the key), never a wrong answer.
func orderKey(account int64, ids []acme.Identifier, profile string) string {
	n := 24 + len(profile)
	for _, id := range ids {
		n += len(id.Type) + len(id.Value) + 2
	}
	b := make([]byte, 0, n)
	b = strconv.AppendInt(b, account, 10)
	b = append(b, 0)
	b = append(b, profile...)
	for _, id := range ids {
		b = append(b, 0)
		b = append(b, id.Type...)
		b = append(b, ':')
		b = append(b, id.Value...)
	}
	return string(b)
}

// authzKey encodes an AuthzKey's fields; see orderKey.
func authzKey(account int64, id acme.Identifier, wildcard bool, profile string) string {
	w := ""
	if wildcard {
		w = "*"
	}
	return fmt.Sprintf("%d\x00%s\x00%s:%s\x00%s", account, profile, id.Type, id.Value, w)
}

// keyIndex maps account KeyIDs to account IDs. Unlike index it is exact
// about ownership: a key maps to at most one account, which is what makes
// ErrConflict possible. The zero value is empty. Safe for concurrent use;
// each method holds one shard lock.
type keyIndex struct {
	shards [nShards]shard[string, int64]
}

// lookup returns the account that holds key.
func (x *keyIndex) lookup(key string) (int64, bool) {
	s := &x.shards[strHash(key)%nShards]
	s.mu.RLock()
	id, ok := s.m[key]
	s.mu.RUnlock()
	return id, ok
}

// reserve makes key point at account id, or fails with ErrConflict if
// another account holds it.
func (x *keyIndex) reserve(key string, id int64) error {
	s := &x.shards[strHash(key)%nShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, ok := s.m[key]; ok && owner != id {
		return fmt.Errorf("account key %q: %w", key, ErrConflict)
	}
	if s.m == nil {
		s.m = make(map[string]int64)
	}
	s.m[key] = id
	return nil
}

// release deletes key if account id holds it.
func (x *keyIndex) release(key string, id int64) {
	s := &x.shards[strHash(key)%nShards]
	s.mu.Lock()
	if owner, ok := s.m[key]; ok && owner == id {
		delete(s.m, key)
	}
	s.mu.Unlock()
}

// ownedIDs lists the IDs of the orders of each account, so that
// AccountOrders reads an account's orders and no others. Like index it is
// a hint written after the order's shard lock is released: an ID is added
// when an order is created, or when an update gives it another account
// (which the CA never does), and readers re-read every order and skip those
// that are no longer the account's. Entries are never removed: orders are
// never deleted, and the only stale entries are those of moved orders.
//
// The zero value is empty. Safe for concurrent use; each method holds one
// shard lock.
type ownedIDs struct {
	shards [nShards]shard[int64, []int64]
}

// add files the object id under owner.
func (x *ownedIDs) add(owner, id int64) {
	s := &x.shards[idHash(owner)%nShards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[int64][]int64)
	}
	s.m[owner] = append(s.m[owner], id)
	s.mu.Unlock()
}

// ids returns the IDs filed under owner, sorted and without duplicates
// (concurrent creations may file them out of order).
func (x *ownedIDs) ids(owner int64) []int64 {
	s := &x.shards[idHash(owner)%nShards]
	s.mu.RLock()
	out := slices.Clone(s.m[owner])
	s.mu.RUnlock()
	slices.Sort(out)
	return slices.Compact(out)
}
