package storetest

import (
	"testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

func accounts(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"create assigns distinct IDs and reads back", accountCreate},
		{"missing accounts are not found", accountMissing},
		{"a taken key conflicts", accountKeyTaken},
		{"update writes and returns the result", accountUpdate},
		{"a failing mutator writes nothing", accountMutatorFails},
		{"values do not alias store memory", accountNoAlias},
	})
}

func accountCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a1, a2 := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
	if a1.ID <= 0 || a2.ID <= 0 || a1.ID == a2.ID {
		t.Fatalf("IDs %d and %d, want distinct and positive", a1.ID, a2.ID)
	}
	want := newAccount("k1")
	want.ID = a1.ID
	same(t, "CreateAccount result", a1, want)
	got, err := s.GetAccount(ctx, a1.ID)
	noErr(t, "GetAccount", err)
	same(t, "GetAccount", got, want)
	got, err = s.GetAccountByKeyID(ctx, "k1")
	noErr(t, "GetAccountByKeyID", err)
	same(t, "GetAccountByKeyID", got, want)
}

func accountMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "k1")
	cases := map[string]func() error{
		"GetAccount": func() error { _, err := s.GetAccount(ctx, a.ID+1000); return err },
		"GetAccountByKeyID": func() error {
			_, err := s.GetAccountByKeyID(ctx, "missing")
			return err
		},
		"UpdateAccount": func() error {
			_, err := s.UpdateAccount(ctx, a.ID+1000, func(*store.Account) error {
				t.Error("mutate called for a missing account")
				return nil
			})
			return err
		},
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) { wantErr(t, name, call(), store.ErrNotFound) })
	}
}

func accountKeyTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "k1")
	dup := newAccount("k1")
	dup.Contact = []string{"mailto:other@example.com"}
	_, err := s.CreateAccount(ctx, dup)
	wantErr(t, "second CreateAccount", err, store.ErrConflict)
	got, err := s.GetAccountByKeyID(ctx, "k1")
	noErr(t, "GetAccountByKeyID", err)
	same(t, "account holding the key", got, a)
}

func accountUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "k1")
	got, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
		a.Status = acme.StatusDeactivated
		a.Contact = nil
		return nil
	})
	noErr(t, "UpdateAccount", err)
	want := a
	want.Status, want.Contact = acme.StatusDeactivated, nil
	same(t, "UpdateAccount result", got, want)
	read, err := s.GetAccount(ctx, a.ID)
	noErr(t, "GetAccount", err)
	same(t, "GetAccount after update", read, want)
}

func accountMutatorFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "k1")
	cases := map[string]func(*store.Account) error{
		"mutator error": func(a *store.Account) error {
			a.Contact[0] = "mailto:changed@example.com"
			a.KeyID = "k2"
			return errMutate
		},
		"ID changed": func(a *store.Account) error { a.ID++; return nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.UpdateAccount(ctx, a.ID, mutate)
			if err == nil {
				t.Fatal("UpdateAccount succeeded")
			}
			got, err := s.GetAccount(ctx, a.ID)
			noErr(t, "GetAccount", err)
			same(t, "account after failed update", got, a)
			_, err = s.GetAccountByKeyID(ctx, "k2")
			wantErr(t, "GetAccountByKeyID(k2)", err, store.ErrNotFound)
		})
	}
	_, err := s.UpdateAccount(ctx, a.ID, cases["mutator error"])
	wantErr(t, "UpdateAccount", err, errMutate)
}

func accountNoAlias(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := newAccount("k1")
	a, err := s.CreateAccount(ctx, in)
	noErr(t, "CreateAccount", err)
	want := newAccount("k1")
	want.ID = a.ID
	in.JWK[0], in.Contact[0] = 'X', "mailto:input@example.com"
	a.JWK[0], a.Contact[0] = 'Y', "mailto:result@example.com"
	got, err := s.GetAccount(ctx, a.ID)
	noErr(t, "GetAccount", err)
	same(t, "after changing create's input and result", got, want)

	got.JWK[0], got.Contact[0] = 'Z', "mailto:read@example.com"
	var kept *store.Account
	upd, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
		kept = a
		a.InitialIP = "::1"
		return nil
	})
	noErr(t, "UpdateAccount", err)
	want.InitialIP = "::1"
	kept.JWK[0], kept.Contact[0] = 'W', "mailto:kept@example.com"
	upd.JWK[1], upd.Contact = 'V', append(upd.Contact[:0], "mailto:upd@example.com")
	got, err = s.GetAccount(ctx, a.ID)
	noErr(t, "GetAccount", err)
	same(t, "after changing read, mutated and updated values", got, want)
}

func accountKeys(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("key change moves the key", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		a := mustAccount(t, s, "k1")
		got, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
			a.KeyID, a.JWK = "k2", []byte(`{"new":true}`)
			return nil
		})
		noErr(t, "UpdateAccount", err)
		want := a
		want.KeyID, want.JWK = "k2", []byte(`{"new":true}`)
		same(t, "UpdateAccount result", got, want)
		byKey, err := s.GetAccountByKeyID(ctx, "k2")
		noErr(t, "GetAccountByKeyID(new)", err)
		same(t, "account by new key", byKey, want)
		_, err = s.GetAccountByKeyID(ctx, "k1")
		wantErr(t, "GetAccountByKeyID(old)", err, store.ErrNotFound)
		b := mustAccount(t, s, "k1")
		if b.ID == a.ID {
			t.Errorf("new account for the old key got the old ID %d", b.ID)
		}
	})

	t.Run("key change to the same key is a plain update", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		a := mustAccount(t, s, "k1")
		_, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
			a.KeyID = "k1"
			a.Status = acme.StatusDeactivated
			return nil
		})
		noErr(t, "UpdateAccount", err)
		got, err := s.GetAccountByKeyID(ctx, "k1")
		noErr(t, "GetAccountByKeyID", err)
		if got.ID != a.ID || got.Status != acme.StatusDeactivated {
			t.Errorf("got account %d status %s, want %d deactivated", got.ID, got.Status, a.ID)
		}
	})

	t.Run("key change to a taken key conflicts and changes nothing", func(t *testing.T) {
		s, ctx := newStore(t), t.Context()
		a, b := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
		_, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
			a.KeyID = "k2"
			a.Contact = []string{"mailto:changed@example.com"}
			return nil
		})
		wantErr(t, "UpdateAccount", err, store.ErrConflict)
		for _, c := range []struct {
			key  string
			want store.Account
		}{{"k1", a}, {"k2", b}} {
			byID, err := s.GetAccount(ctx, c.want.ID)
			noErr(t, "GetAccount", err)
			same(t, "account by ID", byID, c.want)
			byKey, err := s.GetAccountByKeyID(ctx, c.key)
			noErr(t, "GetAccountByKeyID("+c.key+")", err)
			same(t, "account by key "+c.key, byKey, c.want)
		}
	})
}
