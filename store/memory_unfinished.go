package store

import (
	"cmp"
	"context"
	"slices"
)

// idSet files the IDs of the objects in one state (unfinished orders,
// unfinished authorizations), each with the version of the object it was
// filed at, so that Unfinished reads those objects and no others.
//
// Like index, it is a hint written after the object's shard lock is
// released, and versions keep it safe when updates race: put keeps the
// highest version filed; drop(id, v), by a writer that left the state at
// version v or a look-up that saw the object out of it at v, removes the
// entry only if it was filed at a version ≤ v. An object that entered the
// state again later was filed at a higher version and stays. An entry left
// behind by a slow writer is dropped by the next look-up.
//
// The zero value is empty. Safe for concurrent use; each method holds one
// shard lock at a time.
type idSet struct {
	shards [nShards]shard[int64, uint64]
}

func (x *idSet) put(id int64, ver uint64) {
	s := &x.shards[idHash(id)%nShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[int64]uint64)
	}
	if old, ok := s.m[id]; !ok || ver > old {
		s.m[id] = ver
	}
}

func (x *idSet) drop(id int64, ver uint64) {
	s := &x.shards[idHash(id)%nShards]
	s.mu.Lock()
	if old, ok := s.m[id]; ok && old <= ver {
		delete(s.m, id)
	}
	s.mu.Unlock()
}

// ids returns the filed IDs, one shard at a time (not a snapshot).
func (x *idSet) ids() []int64 {
	var out []int64
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		for id := range s.m {
			out = append(out, id)
		}
		s.mu.RUnlock()
	}
	return out
}

// refile files or unfiles the object with the ID after a write that took
// it to version ver, when the write moved it into or out of the set.
func (x *idSet) refile(id int64, ver uint64, was, is bool) {
	switch {
	case is && !was:
		x.put(id, ver)
	case was && !is:
		x.drop(id, ver)
	}
}

// Unfinished returns the unfinished orders and authorizations, in ID
// order. It reads only the objects the unfinished sets name, re-checks
// each, and drops the entries it finds stale. Objects are read one by one:
// the result is not a snapshot across objects.
func (m *Memory) Unfinished(ctx context.Context) ([]Order, []Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	orders := unfinishedIn(&m.unfinishedOrders, &m.orders, cloneOrder, (*Order).Unfinished)
	authzs := unfinishedIn(&m.unfinishedAuthzs, &m.authzs, cloneAuthz, (*Authorization).Unfinished)
	return orders, authzs, nil
}

// unfinishedIn reads the objects of t that set names, keeps those for
// which unfinished holds, and drops the other entries.
func unfinishedIn[T any](set *idSet, t *table[int64, T], clone func(T) T, unfinished func(*T) bool) []T {
	ids := set.ids()
	slices.SortFunc(ids, cmp.Compare)
	var out []T
	for _, id := range ids {
		v, ver, ok := t.load(idHash(id), id)
		switch {
		case !ok:
			set.drop(id, ^uint64(0))
		case unfinished(&v):
			out = append(out, clone(v))
		default:
			set.drop(id, ver)
		}
	}
	return out
}
