package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fakeca/fakeca/store"
)

const serial = "03a1b2c3d4e5f60718293a4b5c6d7e8f9012"

func certificates(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"add and get", certAdd},
		{"a taken serial conflicts", certSerialTaken},
		{"missing certificates are not found", certMissing},
		{"update writes and returns the result", certUpdate},
		{"a failing mutator writes nothing", certMutatorFails},
		{"values do not alias store memory", certNoAlias},
		{"revoked certificates are listed by CRL shard", certRevokedByShard},
	})
}

// certRevokedByShard: only revoked certificates of the asked issuer and
// shard that expire after the cut-off are listed, in serial order, whether
// they were revoked by UpdateCertificate or stored revoked.
func certRevokedByShard(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(serial, issuer string, shard int, expires time.Duration, revoked bool) {
		c := newCert(serial, 1, 2)
		c.IssuerID, c.CRLShard, c.Expires, c.Revoked = issuer, shard, base().Add(expires), revoked
		noErr(t, "AddCertificate", s.AddCertificate(ctx, c))
	}
	mk("0b", "E5", 3, 90*day, true)  // listed (stored revoked)
	mk("0a", "E5", 3, 90*day, false) // listed after the update below
	mk("0c", "E5", 3, 90*day, false) // never revoked
	mk("0d", "E5", 4, 90*day, true)  // another shard
	mk("0e", "R10", 3, 90*day, true) // another issuer
	mk("0f", "E5", 3, 2*day, true)   // expired before the cut-off
	_, err := s.UpdateCertificate(ctx, "0a", func(c *store.Certificate) error {
		c.Revoked, c.RevokedAt, c.Reason = true, base().Add(day), 4
		return nil
	})
	noErr(t, "UpdateCertificate", err)
	got, err := s.RevokedCertificates(ctx, "E5", 3, base().Add(3*day))
	noErr(t, "RevokedCertificates", err)
	var serials []string
	for _, c := range got {
		serials = append(serials, c.Serial)
	}
	same(t, "revoked serials", serials, []string{"0a", "0b"})
	if got[0].Reason != 4 || !got[0].RevokedAt.Equal(base().Add(day)) {
		t.Errorf("listed certificate lost its revocation: %+v", got[0])
	}
	none, err := s.RevokedCertificates(ctx, "E5", 9, base())
	noErr(t, "RevokedCertificates of an empty shard", err)
	if len(none) != 0 {
		t.Errorf("empty shard lists %d certificates", len(none))
	}
}

func certAdd(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddCertificate", s.AddCertificate(ctx, newCert(serial, 1, 2)))
	got, err := s.GetCertificate(ctx, serial)
	noErr(t, "GetCertificate", err)
	same(t, "GetCertificate", got, newCert(serial, 1, 2))
}

func certSerialTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddCertificate", s.AddCertificate(ctx, newCert(serial, 1, 2)))
	wantErr(t, "second AddCertificate", s.AddCertificate(ctx, newCert(serial, 3, 4)), store.ErrConflict)
	got, err := s.GetCertificate(ctx, serial)
	noErr(t, "GetCertificate", err)
	same(t, "certificate after the conflict", got, newCert(serial, 1, 2))
}

func certMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddCertificate", s.AddCertificate(ctx, newCert(serial, 1, 2)))
	_, err := s.GetCertificate(ctx, "ff")
	wantErr(t, "GetCertificate", err, store.ErrNotFound)
	_, err = s.UpdateCertificate(ctx, "ff", func(*store.Certificate) error { return nil })
	wantErr(t, "UpdateCertificate", err, store.ErrNotFound)
}

func certUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddCertificate", s.AddCertificate(ctx, newCert(serial, 1, 2)))
	got, err := s.UpdateCertificate(ctx, serial, func(c *store.Certificate) error {
		c.Revoked, c.RevokedAt, c.Reason = true, base().Add(day), 1
		return nil
	})
	noErr(t, "UpdateCertificate", err)
	want := newCert(serial, 1, 2)
	want.Revoked, want.RevokedAt, want.Reason = true, base().Add(day), 1
	same(t, "UpdateCertificate result", got, want)
	read, err := s.GetCertificate(ctx, serial)
	noErr(t, "GetCertificate", err)
	same(t, "GetCertificate after update", read, want)
}

func certMutatorFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddCertificate", s.AddCertificate(ctx, newCert(serial, 1, 2)))
	cases := map[string]func(*store.Certificate) error{
		"mutator error": func(c *store.Certificate) error {
			c.Revoked, c.DER[0] = true, 0
			return errMutate
		},
		"serial changed": func(c *store.Certificate) error { c.Serial = "00"; return nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.UpdateCertificate(ctx, serial, mutate); err == nil {
				t.Fatal("UpdateCertificate succeeded")
			}
			got, err := s.GetCertificate(ctx, serial)
			noErr(t, "GetCertificate", err)
			same(t, "certificate after failed update", got, newCert(serial, 1, 2))
		})
	}
	_, err := s.UpdateCertificate(ctx, serial, cases["mutator error"])
	wantErr(t, "UpdateCertificate", err, errMutate)
}

func certNoAlias(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := newCert(serial, 1, 2)
	noErr(t, "AddCertificate", s.AddCertificate(ctx, in))
	in.DER[0], in.Identifiers[0].Value = 0, "x"
	got, err := s.GetCertificate(ctx, serial)
	noErr(t, "GetCertificate", err)
	got.DER[1], got.Identifiers[0].Value = 0, "y"
	var kept *store.Certificate
	upd, err := s.UpdateCertificate(ctx, serial, func(c *store.Certificate) error {
		kept = c
		c.Reason = 4
		return nil
	})
	noErr(t, "UpdateCertificate", err)
	kept.DER[2], upd.DER[3], upd.Identifiers[0].Value = 0, 0, "v"
	got, err = s.GetCertificate(ctx, serial)
	noErr(t, "GetCertificate", err)
	want := newCert(serial, 1, 2)
	want.Reason = 4
	same(t, "after changing input, read, mutated and updated values", got, want)
}

func blockedKeys(t *testing.T, newStore func(*testing.T) store.Store) {
	s, ctx := newStore(t), t.Context()
	steps := []struct {
		block string // blocked before the checks, if set
		check map[string]bool
	}{
		{check: map[string]bool{"h1": false, "h2": false}},
		{block: "h1", check: map[string]bool{"h1": true, "h2": false}},
		{block: "h1", check: map[string]bool{"h1": true, "h2": false}}, // twice is fine
		{block: "h2", check: map[string]bool{"h1": true, "h2": true, "h3": false}},
	}
	for i, st := range steps {
		if st.block != "" {
			noErr(t, "BlockKey", s.BlockKey(ctx, st.block))
		}
		for hash, want := range st.check {
			got, err := s.KeyBlocked(ctx, hash)
			noErr(t, "KeyBlocked", err)
			if got != want {
				t.Errorf("step %d: KeyBlocked(%q) = %v, want %v", i, hash, got, want)
			}
		}
	}
}

func canceled(t *testing.T, newStore func(*testing.T) store.Store) {
	s := newStore(t)
	acct := mustAccount(t, s, "k1")
	o := mustOrder(t, s, acct.ID, "a.example")
	noErr(t, "AddCertificate", s.AddCertificate(t.Context(), newCert(serial, acct.ID, o.ID)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	nop := func(any) error { return nil }
	calls := map[string]func() error{
		"CreateAccount":     func() error { _, err := s.CreateAccount(ctx, newAccount("k2")); return err },
		"GetAccount":        func() error { _, err := s.GetAccount(ctx, acct.ID); return err },
		"GetAccountByKeyID": func() error { _, err := s.GetAccountByKeyID(ctx, "k1"); return err },
		"UpdateAccount": func() error {
			_, err := s.UpdateAccount(ctx, acct.ID, func(a *store.Account) error { return nop(a) })
			return err
		},
		"CreateOrder": func() error { _, err := s.CreateOrder(ctx, newOrder(acct.ID, "b.example"), nil); return err },
		"GetOrder":    func() error { _, err := s.GetOrder(ctx, o.ID); return err },
		"UpdateOrder": func() error {
			_, err := s.UpdateOrder(ctx, o.ID, func(o *store.Order) error { return nop(o) })
			return err
		},
		"AccountOrders": func() error { _, err := s.AccountOrders(ctx, acct.ID); return err },
		"FindReusableOrder": func() error {
			_, err := s.FindReusableOrder(ctx, store.OrderKey{AccountID: acct.ID, Identifiers: o.Identifiers, Profile: o.Profile}, base())
			return err
		},
		"GetAuthz":  func() error { _, err := s.GetAuthz(ctx, o.AuthzIDs[0]); return err },
		"GetAuthzs": func() error { _, err := s.GetAuthzs(ctx, o.AuthzIDs); return err },
		"UpdateAuthz": func() error {
			_, err := s.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error { return nop(a) })
			return err
		},
		"FindValidAuthz": func() error {
			_, err := s.FindValidAuthz(ctx, store.AuthzKey{AccountID: acct.ID, Identifier: dns("a.example")}, base())
			return err
		},
		"Unfinished":     func() error { _, _, err := s.Unfinished(ctx); return err },
		"AddCertificate": func() error { return s.AddCertificate(ctx, newCert("ff", acct.ID, o.ID)) },
		"GetCertificate": func() error { _, err := s.GetCertificate(ctx, serial); return err },
		"UpdateCertificate": func() error {
			_, err := s.UpdateCertificate(ctx, serial, func(c *store.Certificate) error { return nop(c) })
			return err
		},
		"BlockKey":   func() error { return s.BlockKey(ctx, "h") },
		"KeyBlocked": func() error { _, err := s.KeyBlocked(ctx, "h"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantErr(t, name, call(), context.Canceled) })
	}
	live := t.Context()
	if _, err := s.GetAccountByKeyID(live, "k2"); err == nil {
		t.Error("CreateAccount with a canceled context created an account")
	}
	if _, err := s.GetCertificate(live, "ff"); err == nil {
		t.Error("AddCertificate with a canceled context added a certificate")
	}
	if blocked, _ := s.KeyBlocked(live, "h"); blocked {
		t.Error("BlockKey with a canceled context blocked the key")
	}
}
