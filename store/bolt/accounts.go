package bolt

import (
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/store"
)

// CreateAccount stores a new account with the next account ID and returns
// it. ErrConflict if another account holds a.KeyID; a failed attempt uses
// up no ID.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	var out store.Account
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		keys := bucket(tx, bucketAccountKeys)
		if keys.Get(strKey(a.KeyID)) != nil {
			return errKeyTaken(a.KeyID)
		}
		accts := bucket(tx, bucketAccounts)
		id, err := nextID(accts)
		if err != nil {
			return err
		}
		if err := keys.Put(strKey(a.KeyID), idKey(id)); err != nil {
			return err
		}
		v := encodeAccount(&a)
		if err := accts.Put(idKey(id), v); err != nil {
			return err
		}
		out, err = decodeAccount(id, v)
		return err
	})
	if err != nil {
		return store.Account{}, err
	}
	return out, nil
}

func errKeyTaken(keyID string) error {
	return fmt.Errorf("account key %q: %w", keyID, store.ErrConflict)
}

// GetAccount returns the account with the ID.
func (s *Store) GetAccount(ctx context.Context, id int64) (store.Account, error) {
	var out store.Account
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = getAccount(tx, id)
		return err
	})
	return out, err
}

func getAccount(tx *bbolt.Tx, id int64) (store.Account, error) {
	v := bucket(tx, bucketAccounts).Get(idKey(id))
	if v == nil {
		return store.Account{}, notFound("account", id)
	}
	a, err := decodeAccount(id, v)
	if err != nil {
		return store.Account{}, corrupt("account", id, err)
	}
	return a, nil
}

// GetAccountByKeyID returns the account that holds the key.
func (s *Store) GetAccountByKeyID(ctx context.Context, keyID string) (store.Account, error) {
	var out store.Account
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		v := bucket(tx, bucketAccountKeys).Get(strKey(keyID))
		if len(v) != 8 {
			return fmt.Errorf("account key %q: %w", keyID, store.ErrNotFound)
		}
		var err error
		out, err = getAccount(tx, idAt(v))
		return err
	})
	return out, err
}

// UpdateAccount applies mutate to the account in one transaction. A changed
// KeyID moves the account in the key index in the same transaction, or
// fails with ErrConflict if another account holds the new key.
func (s *Store) UpdateAccount(ctx context.Context, id int64, mutate func(*store.Account) error) (store.Account, error) {
	var out store.Account
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		a, err := getAccount(tx, id)
		if err != nil {
			return err
		}
		oldKey := a.KeyID
		if err := mutate(&a); err != nil {
			return err
		}
		if a.ID != id {
			return errIDChanged("account", id, a.ID)
		}
		if a.KeyID != oldKey {
			if err := moveKey(tx, id, oldKey, a.KeyID); err != nil {
				return err
			}
		}
		out = a
		return bucket(tx, bucketAccounts).Put(idKey(id), encodeAccount(&a))
	})
	if err != nil {
		return store.Account{}, err
	}
	return out, nil
}

// moveKey points the key index at account id under key to instead of from.
func moveKey(tx *bbolt.Tx, id int64, from, to string) error {
	keys := bucket(tx, bucketAccountKeys)
	if v := keys.Get(strKey(to)); v != nil && idAt(v) != id {
		return fmt.Errorf("account %d: %w", id, errKeyTaken(to))
	}
	if v := keys.Get(strKey(from)); v != nil && idAt(v) == id {
		if err := keys.Delete(strKey(from)); err != nil {
			return err
		}
	}
	return keys.Put(strKey(to), idKey(id))
}
