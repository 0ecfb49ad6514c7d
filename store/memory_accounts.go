package store

import (
	"context"
	"fmt"
)

// CreateAccount stores a new account with the next account ID and returns
// it. ErrConflict if another account holds a.KeyID; the ID drawn for the
// failed attempt is not reused.
//
// The account is stored before its key is reserved, and removed again if the
// reservation fails: nobody knows the new ID yet, and GetAccountByKeyID never
// sees a key whose account is missing.
func (m *Memory) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a = cloneAccount(a)
	a.ID = m.accountSeq.Add(1)
	m.accounts.insert(idHash(a.ID), a.ID, cloneAccount(a))
	if err := m.accountKeys.reserve(a.KeyID, a.ID); err != nil {
		m.accounts.remove(idHash(a.ID), a.ID)
		return Account{}, err
	}
	return a, nil
}

// GetAccount returns the account with the ID.
func (m *Memory) GetAccount(ctx context.Context, id int64) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a, _, ok := m.accounts.load(idHash(id), id)
	if !ok {
		return Account{}, notFound("account", id)
	}
	return cloneAccount(a), nil
}

// GetAccountByKeyID returns the account that holds the key. While a key
// change is in flight the index may name an account that does not (or no
// longer) hold the key; the account is re-checked, so that reads as not
// found.
func (m *Memory) GetAccountByKeyID(ctx context.Context, keyID string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	id, ok := m.accountKeys.lookup(keyID)
	if !ok {
		return Account{}, fmt.Errorf("account key %q: %w", keyID, ErrNotFound)
	}
	a, _, ok := m.accounts.load(idHash(id), id)
	if !ok || a.KeyID != keyID {
		return Account{}, fmt.Errorf("account key %q: %w", keyID, ErrNotFound)
	}
	return cloneAccount(a), nil
}

// UpdateAccount applies mutate to the account under its shard's write lock.
// mutate may run more than once (see below); each run gets a fresh copy of
// the current account.
//
// A change of KeyID must move the account in the key index without holding
// the account's shard lock and a key-index shard lock together. It works
// like a compare-and-swap, serialised with the account's other key changes
// by keyChange[id%64] (the only lock taken before a shard lock; see Memory):
//  1. run mutate under the account lock; if KeyID is unchanged, write and
//     stop. Otherwise write nothing, unlock, take the account's key-change
//     lock and run mutate again (the account may have moved meanwhile);
//  2. reserve the new key for the account, or fail with ErrConflict if
//     another account holds it; nothing has changed;
//  3. write the mutated account if it is still at the version step 1 saw,
//     then release the old key;
//  4. if the account moved on since step 1 (an update that kept its key),
//     release the new key and start again from step 1.
//
// Only this sequence changes an account's KeyID, and only with the
// key-change lock held, so while it runs the key index holds exactly the
// account's current key and the one being reserved, and steps 3 and 4
// release the right one. Between steps 2 and 3 both keys point at the
// account; GetAccountByKeyID re-checks the account's KeyID, so only its
// current key finds it.
func (m *Memory) UpdateAccount(ctx context.Context, id int64, mutate func(*Account) error) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	apply := func(a *Account) error {
		if err := mutate(a); err != nil {
			return err
		}
		if a.ID != id {
			return errIDChanged("account", id, a.ID)
		}
		return nil
	}
	c, err := m.applyAccount(id, apply)
	if err != nil || c.written {
		return c.cur, err
	}
	mu := &m.keyChange[idHash(id)%nShards]
	mu.Lock()
	defer mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return Account{}, err
		}
		c, err = m.applyAccount(id, apply)
		if err != nil || c.written {
			return c.cur, err
		}
		if err := m.accountKeys.reserve(c.cur.KeyID, id); err != nil {
			return Account{}, fmt.Errorf("account %d: %w", id, err)
		}
		if m.accounts.swap(idHash(id), id, c.ver, cloneAccount(c.cur)) {
			m.accountKeys.release(c.old.KeyID, id)
			return c.cur, nil
		}
		m.accountKeys.release(c.cur.KeyID, id)
	}
}

// applyAccount runs mutate on the account and writes the result unless it
// changes KeyID; c.written says which.
func (m *Memory) applyAccount(id int64, mutate func(*Account) error) (change[Account], error) {
	c, ok, err := m.accounts.update(idHash(id), id, cloneAccount, mutate,
		func(old, cur *Account) bool { return old.KeyID != cur.KeyID })
	switch {
	case !ok:
		return change[Account]{}, notFound("account", id)
	case err != nil:
		return change[Account]{}, err
	}
	return c, nil
}
