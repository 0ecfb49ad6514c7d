package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// GetAuthz returns the authorization with the ID.
func (m *Memory) GetAuthz(ctx context.Context, id int64) (Authorization, error) {
	if err := ctx.Err(); err != nil {
		return Authorization{}, err
	}
	a, _, ok := m.authzs.load(idHash(id), id)
	if !ok {
		return Authorization{}, notFound("authz", id)
	}
	return cloneAuthz(a), nil
}

// GetAuthzs returns the authorizations with the given IDs, in the order of
// ids (repeats included). If any is missing it returns ErrNotFound naming
// the first missing ID, and no authorizations. Each authorization is read
// on its own: the result is not a snapshot across authorizations.
func (m *Memory) GetAuthzs(ctx context.Context, ids []int64) ([]Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Authorization, len(ids))
	for i, id := range ids {
		a, _, ok := m.authzs.load(idHash(id), id)
		if !ok {
			return nil, notFound("authz", id)
		}
		out[i] = cloneAuthz(a)
	}
	return out, nil
}

// UpdateAuthz applies mutate to the authorization under its shard's write
// lock. An authorization that becomes valid, or whose key or expiry changes
// while valid, is filed for FindValidAuthz after the lock is released; one
// that stops being valid is dropped from that index by the next look-up.
// One that becomes unfinished, or stops being so, is filed or unfiled for
// Unfinished.
func (m *Memory) UpdateAuthz(ctx context.Context, id int64, mutate func(*Authorization) error) (Authorization, error) {
	if err := ctx.Err(); err != nil {
		return Authorization{}, err
	}
	c, err := updateKeyed(&m.authzs, idHash(id), id, "authz", cloneAuthz,
		func(a *Authorization) int64 { return a.ID }, mutate)
	if err != nil {
		return Authorization{}, err
	}
	old, cur := &c.old, &c.cur
	if cur.Status == acme.StatusValid && (old.Status != acme.StatusValid ||
		!old.Expires.Equal(cur.Expires) || old.AccountID != cur.AccountID ||
		old.Identifier != cur.Identifier || old.Wildcard != cur.Wildcard ||
		old.Profile != cur.Profile) {
		m.fileAuthz(*cur, c.ver)
	}
	m.unfinishedAuthzs.refile(id, c.ver, old.Unfinished(), cur.Unfinished())
	return c.cur, nil
}

// FindValidAuthz returns the valid authorization filed under key that
// expires last, if it expires after minExpiry.
//
// It reads the candidates the index names that expire after minExpiry,
// latest first, and drops from the index every entry whose authorization it
// finds no longer valid or no longer under key. It does not drop entries
// for minExpiry alone, since a later call may pass an earlier one; expired
// entries go when a newer authorization is filed under the same key (see
// index.put), which keeps each key's list as short as the number of valid
// authorizations alive at once.
func (m *Memory) FindValidAuthz(ctx context.Context, key AuthzKey, minExpiry time.Time) (Authorization, error) {
	if err := ctx.Err(); err != nil {
		return Authorization{}, err
	}
	k := authzKey(key.AccountID, key.Identifier, key.Wildcard, key.Profile)
	cands, _ := m.authzIdx.list(k, func(e entry) bool { return e.exp.After(minExpiry) })
	slices.SortFunc(cands, func(a, b entry) int {
		if c := b.exp.Compare(a.exp); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	var (
		stale []entry
		found Authorization
		ok    bool
	)
	for _, e := range cands {
		a, ver, exists := m.authzs.load(idHash(e.id), e.id)
		if !exists {
			continue
		}
		if a.Status != acme.StatusValid || !authzHasKey(&a, &key) {
			stale = append(stale, entry{id: e.id, ver: ver})
			continue
		}
		if a.Expires.After(minExpiry) {
			found, ok = a, true
			break
		}
	}
	if len(stale) > 0 {
		m.authzIdx.drop(k, staleSeen(stale))
	}
	if !ok {
		return Authorization{}, fmt.Errorf("valid authz for account %d, %s: %w",
			key.AccountID, key.Identifier, ErrNotFound)
	}
	return cloneAuthz(found), nil
}

// fileAuthz files a, seen at version ver, under its AuthzKey.
func (m *Memory) fileAuthz(a Authorization, ver uint64) {
	m.authzIdx.put(authzKey(a.AccountID, a.Identifier, a.Wildcard, a.Profile),
		entry{id: a.ID, ver: ver, exp: a.Expires}, a.Created)
}

func authzHasKey(a *Authorization, k *AuthzKey) bool {
	return a.AccountID == k.AccountID && a.Identifier == k.Identifier &&
		a.Wildcard == k.Wildcard && a.Profile == k.Profile
}
