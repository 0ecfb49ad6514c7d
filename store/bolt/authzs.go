package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// GetAuthz returns the authorization with the ID.
func (s *Store) GetAuthz(ctx context.Context, id int64) (store.Authorization, error) {
	var out store.Authorization
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = getAuthz(tx, id)
		return err
	})
	return out, err
}

func getAuthz(tx *bbolt.Tx, id int64) (store.Authorization, error) {
	v := bucket(tx, bucketAuthzs).Get(idKey(id))
	if v == nil {
		return store.Authorization{}, notFound("authz", id)
	}
	a, err := decodeAuthz(id, v)
	if err != nil {
		return store.Authorization{}, corrupt("authz", id, err)
	}
	return a, nil
}

// GetAuthzs returns the authorizations with the given IDs, in the order of
// ids (repeats included), read in one transaction: a consistent snapshot.
// If any is missing it returns ErrNotFound naming the first missing ID.
func (s *Store) GetAuthzs(ctx context.Context, ids []int64) ([]store.Authorization, error) {
	out := make([]store.Authorization, len(ids))
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		for i, id := range ids {
			var err error
			if out[i], err = getAuthz(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateAuthz applies mutate to the authorization in one transaction, which
// also files it for FindValidAuthz while it is valid (under its current key
// and expiry) and unfiles it when it stops being valid, and likewise for
// Unfinished while it is unfinished.
func (s *Store) UpdateAuthz(ctx context.Context, id int64, mutate func(*store.Authorization) error) (store.Authorization, error) {
	var out store.Authorization
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		v := bucket(tx, bucketAuthzs).Get(idKey(id))
		if v == nil {
			return notFound("authz", id)
		}
		old, err := decodeAuthz(id, v)
		if err != nil {
			return corrupt("authz", id, err)
		}
		cur, _ := decodeAuthz(id, v)
		if err := mutate(&cur); err != nil {
			return err
		}
		if cur.ID != id {
			return errIDChanged("authz", id, cur.ID)
		}
		out = cur
		return putAuthz(tx, &old, &cur)
	})
	if err != nil {
		return store.Authorization{}, err
	}
	return out, nil
}

// putAuthz writes cur, whose previous state is old (nil for a new
// authorization), and updates the authz and unfinished indexes.
func putAuthz(tx *bbolt.Tx, old, cur *store.Authorization) error {
	if err := bucket(tx, bucketAuthzs).Put(idKey(cur.ID), encodeAuthz(cur)); err != nil {
		return err
	}
	var was, wasUnfinished entry
	if old != nil {
		was, wasUnfinished = authzEntry(old), unfinishedAuthzEntry(old)
	}
	if _, err := reindex(bucket(tx, bucketUnfinishedAuthzs), wasUnfinished, unfinishedAuthzEntry(cur)); err != nil {
		return err
	}
	now := authzEntry(cur)
	idx := bucket(tx, bucketAuthzIndex)
	added, err := reindex(idx, was, now)
	if err != nil || !added {
		return err
	}
	return pruneAuthzs(idx, now.k[:hashLen], cur.ID, cur.Created)
}

// FindValidAuthz returns the valid authorization filed under key that
// expires last (the highest ID among equals), if it expires after
// minExpiry. The index sorts a key's entries by expiry, so this reads one
// entry and one authorization. Entries that expired by an authorization's
// creation are pruned when the next one with the key is filed.
func (s *Store) FindValidAuthz(ctx context.Context, key store.AuthzKey, minExpiry time.Time) (store.Authorization, error) {
	var out store.Authorization
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		prefix := authzPrefix(key.AccountID, key.Identifier, key.Wildcard, key.Profile)
		c := bucket(tx, bucketAuthzIndex).Cursor()
		for k, _ := seekLast(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			if !parseTime(k[hashLen:]).After(minExpiry) {
				break
			}
			a, err := getAuthz(tx, idAt(k))
			if err != nil {
				return err
			}
			// The index is exact; the check guards against hash collisions.
			if a.Status == acme.StatusValid && a.Expires.After(minExpiry) && authzHasKey(&a, &key) {
				out = a
				return nil
			}
		}
		return fmt.Errorf("valid authz for account %d, %s: %w", key.AccountID, key.Identifier, store.ErrNotFound)
	})
	return out, err
}

func authzHasKey(a *store.Authorization, k *store.AuthzKey) bool {
	return a.AccountID == k.AccountID && a.Identifier == k.Identifier &&
		a.Wildcard == k.Wildcard && a.Profile == k.Profile
}
