package bolt

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/store"
)

// CreateOrder stores the new authorizations, each with the next authz ID,
// appends their IDs to o.AuthzIDs, and stores the order with the next order
// ID, all in one transaction. Every ID already in o.AuthzIDs must name a
// stored authorization, or CreateOrder fails with ErrNotFound and stores
// nothing. The order is filed for FindReusableOrder unless it has begun
// processing, and new authorizations that are valid for FindValidAuthz.
func (s *Store) CreateOrder(ctx context.Context, o store.Order, newAuthzs []store.Authorization) (store.Order, error) {
	var out store.Order
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		authzs := bucket(tx, bucketAuthzs)
		for _, id := range o.AuthzIDs {
			if authzs.Get(idKey(id)) == nil {
				return notFound("authz", id)
			}
		}
		ids := make([]int64, len(o.AuthzIDs), len(o.AuthzIDs)+len(newAuthzs))
		copy(ids, o.AuthzIDs)
		for i := range newAuthzs {
			a := newAuthzs[i] // only its ID changes, and it is encoded, not kept
			id, err := nextID(authzs)
			if err != nil {
				return err
			}
			a.ID = id
			if err := putAuthz(tx, nil, &a); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		cur := o
		cur.AuthzIDs = ids
		id, err := nextID(bucket(tx, bucketOrders))
		if err != nil {
			return err
		}
		cur.ID = id
		v, err := putOrder(tx, nil, &cur)
		if err != nil {
			return err
		}
		out, err = decodeOrder(id, v)
		return err
	})
	if err != nil {
		return store.Order{}, err
	}
	return out, nil
}

// putOrder writes cur, whose previous state is old (nil for a new order),
// updates the order, unfinished and account-orders indexes and returns the
// encoded order.
func putOrder(tx *bbolt.Tx, old, cur *store.Order) ([]byte, error) {
	v := encodeOrder(cur)
	if err := bucket(tx, bucketOrders).Put(idKey(cur.ID), v); err != nil {
		return nil, err
	}
	var was, wasUnfinished, wasOwned entry
	if old != nil {
		was, wasUnfinished, wasOwned = orderEntry(old), unfinishedOrderEntry(old), accountOrderEntry(old)
	}
	if _, err := reindex(bucket(tx, bucketUnfinishedOrders), wasUnfinished, unfinishedOrderEntry(cur)); err != nil {
		return nil, err
	}
	if _, err := reindex(bucket(tx, bucketAccountOrders), wasOwned, accountOrderEntry(cur)); err != nil {
		return nil, err
	}
	now := orderEntry(cur)
	idx := bucket(tx, bucketOrderIndex)
	added, err := reindex(idx, was, now)
	if err != nil || !added {
		return v, err
	}
	return v, pruneOrders(idx, now.k[:hashLen], cur.ID, cur.Created)
}

// GetOrder returns the order with the ID.
func (s *Store) GetOrder(ctx context.Context, id int64) (store.Order, error) {
	var out store.Order
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = getOrder(tx, id)
		return err
	})
	return out, err
}

func getOrder(tx *bbolt.Tx, id int64) (store.Order, error) {
	v := bucket(tx, bucketOrders).Get(idKey(id))
	if v == nil {
		return store.Order{}, notFound("order", id)
	}
	o, err := decodeOrder(id, v)
	if err != nil {
		return store.Order{}, corrupt("order", id, err)
	}
	return o, nil
}

// UpdateOrder applies mutate to the order in one transaction, which also
// moves the order in the reuse index: out of it when it begins processing,
// back in if it stops, and to its new key or expiry if those change; and
// files or unfiles it for Unfinished.
func (s *Store) UpdateOrder(ctx context.Context, id int64, mutate func(*store.Order) error) (store.Order, error) {
	var out store.Order
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		v := bucket(tx, bucketOrders).Get(idKey(id))
		if v == nil {
			return notFound("order", id)
		}
		old, err := decodeOrder(id, v)
		if err != nil {
			return corrupt("order", id, err)
		}
		cur, _ := decodeOrder(id, v)
		if err := mutate(&cur); err != nil {
			return err
		}
		if cur.ID != id {
			return errIDChanged("order", id, cur.ID)
		}
		out = cur
		_, err = putOrder(tx, &old, &cur)
		return err
	})
	if err != nil {
		return store.Order{}, err
	}
	return out, nil
}

// AccountOrders returns the account's orders in ID order, read through the
// account-orders index in one transaction: a consistent snapshot.
func (s *Store) AccountOrders(ctx context.Context, accountID int64) ([]store.Order, error) {
	var out []store.Order
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		out = nil
		prefix := idKey(accountID)
		c := bucket(tx, bucketAccountOrders).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			o, err := getOrder(tx, idAt(k))
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FindReusableOrder returns the newest (highest ID) order filed under key
// whose Expires is after now and that has not begun processing. It walks
// the key's index entries newest first, skipping expired ones; entries
// expired by an order's creation are pruned when the next order with the
// key is filed, so the walk is as long as the key's live orders.
func (s *Store) FindReusableOrder(ctx context.Context, key store.OrderKey, now time.Time) (store.Order, error) {
	var out store.Order
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		prefix := orderPrefix(key.AccountID, key.Identifiers, key.Profile)
		c := bucket(tx, bucketOrderIndex).Cursor()
		for k, v := seekLast(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(v) != timeLen || !parseTime(v).After(now) {
				continue
			}
			o, err := getOrder(tx, idAt(k))
			if err != nil {
				return err
			}
			// The index is exact; the check guards against hash collisions.
			if !o.BeganProcessing && o.Expires.After(now) && orderHasKey(&o, &key) {
				out = o
				return nil
			}
		}
		return fmt.Errorf("reusable order for account %d: %w", key.AccountID, store.ErrNotFound)
	})
	return out, err
}

func orderHasKey(o *store.Order, k *store.OrderKey) bool {
	return o.AccountID == k.AccountID && o.Profile == k.Profile &&
		slices.Equal(o.Identifiers, k.Identifiers)
}
