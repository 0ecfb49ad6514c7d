package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// CreateOrder stores the new authorizations, each with the next authz ID,
// appends their IDs to o.AuthzIDs, then stores the order with the next
// order ID and files it for FindReusableOrder. Every ID already in
// o.AuthzIDs must name a stored authorization, or CreateOrder fails with
// ErrNotFound and stores nothing. New authorizations that are already valid
// are filed for FindValidAuthz at once.
//
// The authorizations are stored before the order, so anyone who can see the
// order can read its authorizations.
func (m *Memory) CreateOrder(ctx context.Context, o Order, newAuthzs []Authorization) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	for _, id := range o.AuthzIDs {
		if !m.authzs.has(idHash(id), id) {
			return Order{}, notFound("authz", id)
		}
	}
	ids := make([]int64, len(o.AuthzIDs), len(o.AuthzIDs)+len(newAuthzs))
	copy(ids, o.AuthzIDs)
	for i := range newAuthzs {
		a := cloneAuthz(newAuthzs[i])
		a.ID = m.authzSeq.Add(1)
		m.authzs.insert(idHash(a.ID), a.ID, a)
		if a.Status == acme.StatusValid {
			m.fileAuthz(a, 1)
		}
		if a.Unfinished() {
			m.unfinishedAuthzs.put(a.ID, 1)
		}
		ids = append(ids, a.ID)
	}
	o = cloneOrder(o)
	o.AuthzIDs = ids
	o.ID = m.orderSeq.Add(1)
	m.orders.insert(idHash(o.ID), o.ID, cloneOrder(o))
	m.accountOrders.add(o.AccountID, o.ID)
	if !o.BeganProcessing {
		m.fileOrder(o, 1)
	}
	if o.Unfinished() {
		m.unfinishedOrders.put(o.ID, 1)
	}
	return o, nil
}

// GetOrder returns the order with the ID.
func (m *Memory) GetOrder(ctx context.Context, id int64) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	o, _, ok := m.orders.load(idHash(id), id)
	if !ok {
		return Order{}, notFound("order", id)
	}
	return cloneOrder(o), nil
}

// UpdateOrder applies mutate to the order under its shard's write lock. An
// order that becomes reusable again, or whose key or expiry changes while it
// is reusable, is filed again for FindReusableOrder; one that begins
// processing is dropped from that index by the next look-up. An order that
// becomes unfinished, or stops being so, is filed or unfiled for
// Unfinished. An order given another account is filed for that account's
// AccountOrders.
func (m *Memory) UpdateOrder(ctx context.Context, id int64, mutate func(*Order) error) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	c, err := updateKeyed(&m.orders, idHash(id), id, "order", cloneOrder,
		func(o *Order) int64 { return o.ID }, mutate)
	if err != nil {
		return Order{}, err
	}
	old, cur := &c.old, &c.cur
	if !cur.BeganProcessing && (old.BeganProcessing || !old.Expires.Equal(cur.Expires) ||
		old.AccountID != cur.AccountID || old.Profile != cur.Profile ||
		!slices.Equal(old.Identifiers, cur.Identifiers)) {
		m.fileOrder(*cur, c.ver)
	}
	if old.AccountID != cur.AccountID {
		m.accountOrders.add(cur.AccountID, id)
	}
	m.unfinishedOrders.refile(id, c.ver, old.Unfinished(), cur.Unfinished())
	return c.cur, nil
}

// AccountOrders returns the account's orders in ID order. It reads the
// orders the account → orders index names, one by one (the result is not
// a snapshot across orders), and skips any that another account now owns.
func (m *Memory) AccountOrders(ctx context.Context, accountID int64) ([]Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids := m.accountOrders.ids(accountID)
	out := make([]Order, 0, len(ids))
	for _, id := range ids {
		if o, _, ok := m.orders.load(idHash(id), id); ok && o.AccountID == accountID {
			out = append(out, cloneOrder(o))
		}
	}
	return out, nil
}

// FindReusableOrder returns the newest (highest ID) order filed under key
// whose Expires is after now and that has not begun processing.
//
// It reads the candidates the index names, newest first, and drops from the
// index every entry it finds expired (as of now), begun processing or filed
// under a key the order no longer has. now must not go backwards between
// calls: an order dropped as expired is not found by a later call with an
// earlier now.
func (m *Memory) FindReusableOrder(ctx context.Context, key OrderKey, now time.Time) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	k := orderKey(key.AccountID, key.Identifiers, key.Profile)
	live := func(e entry) bool { return e.exp.After(now) }
	cands, expired := m.orderIdx.list(k, live)
	slices.SortFunc(cands, func(a, b entry) int { return cmp.Compare(b.id, a.id) })
	var (
		stale []entry
		found Order
		ok    bool
	)
	for _, e := range cands {
		o, ver, exists := m.orders.load(idHash(e.id), e.id)
		if !exists {
			continue
		}
		if o.BeganProcessing || !o.Expires.After(now) || !orderHasKey(&o, &key) {
			stale = append(stale, entry{id: e.id, ver: ver})
			continue
		}
		found, ok = o, true
		break
	}
	if expired || len(stale) > 0 {
		seen := staleSeen(stale)
		m.orderIdx.drop(k, func(e entry) bool { return !live(e) || seen(e) })
	}
	if !ok {
		return Order{}, fmt.Errorf("reusable order for account %d: %w", key.AccountID, ErrNotFound)
	}
	return cloneOrder(found), nil
}

// fileOrder files o, seen at version ver, under its OrderKey.
func (m *Memory) fileOrder(o Order, ver uint64) {
	m.orderIdx.put(orderKey(o.AccountID, o.Identifiers, o.Profile),
		entry{id: o.ID, ver: ver, exp: o.Expires}, o.Created)
}

func orderHasKey(o *Order, k *OrderKey) bool {
	return o.AccountID == k.AccountID && o.Profile == k.Profile &&
		slices.Equal(o.Identifiers, k.Identifiers)
}
