package bolt_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/bolt"
)

// state is what TestReopen writes before closing the store.
type state struct {
	acct    store.Account
	order   store.Order
	authzs  []store.Authorization
	revoked store.Certificate
	plain   store.Certificate
}

// fill writes one of everything, with every field set, through s.
func fill(t *testing.T, s *bolt.Store) state {
	t.Helper()
	ctx := t.Context()
	var st state
	var err error
	st.acct, err = s.CreateAccount(ctx, store.Account{
		JWK: []byte(`{"kty":"EC"}`), KeyID: "key-1", Status: acme.StatusValid,
		Contact: []string{"mailto:a@example.com"}, CreatedAt: t0(), InitialIP: "::1", EABKeyID: "eab",
	})
	must(t, err)
	id := dns("a.example")
	prob := &store.Problem{Type: acme.Unauthorized, Detail: "no", Status: 403, Identifier: &id,
		Subproblems: []store.Problem{{Type: acme.DNS, Detail: "NXDOMAIN", Status: 400}}}
	authz := store.Authorization{AccountID: st.acct.ID, Identifier: id, Wildcard: true, Profile: "classic",
		Status: acme.StatusPending, Created: t0(), Expires: t0().Add(7 * 24 * time.Hour),
		Challenges: []store.Challenge{{Type: acme.ChallengeDNS01, Token: "tok", Status: acme.StatusPending}}}
	st.order, err = s.CreateOrder(ctx, store.Order{AccountID: st.acct.ID, Identifiers: []acme.Identifier{id},
		Profile: "classic", Replaces: "ari.id", Created: t0(), Expires: t0().Add(7 * 24 * time.Hour),
		NotBefore: t0(), NotAfter: t0().Add(time.Hour), Error: prob}, []store.Authorization{authz, authz})
	must(t, err)
	valid, err := s.UpdateAuthz(ctx, st.order.AuthzIDs[0], func(a *store.Authorization) error {
		a.Status, a.Expires = acme.StatusValid, t0().Add(30*24*time.Hour+time.Nanosecond)
		a.Challenges[0].Status, a.Challenges[0].Validated, a.Challenges[0].Error = acme.StatusValid, t0(), prob
		return nil
	})
	must(t, err)
	pending, err := s.GetAuthz(ctx, st.order.AuthzIDs[1])
	must(t, err)
	st.authzs = []store.Authorization{valid, pending}
	cert := store.Certificate{AccountID: st.acct.ID, OrderID: st.order.ID, DER: []byte{0x30, 1},
		IssuerID: "E5", CRLShard: 3, Identifiers: []acme.Identifier{id}, Issued: t0(),
		Expires: t0().Add(90 * 24 * time.Hour), KeyHash: "kh", ReplacementOrder: 9}
	st.plain, st.revoked = cert, cert
	st.plain.Serial, st.revoked.Serial = "01", "02"
	st.revoked.Revoked, st.revoked.RevokedAt, st.revoked.Reason = true, t0(), 1
	must(t, s.AddCertificate(ctx, st.plain))
	must(t, s.AddCertificate(ctx, st.revoked))
	must(t, s.BlockKey(ctx, "blocked"))
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReopen writes one of everything, closes the store, opens it again
// and reads everything back through every look-up; new IDs continue the
// old sequences.
func TestReopen(t *testing.T) {
	ctx, path := t.Context(), tempPath(t)
	s, err := bolt.Open(path, bolt.Options{})
	must(t, err)
	want := fill(t, s)
	must(t, s.Close())

	s = open(t, path, bolt.Options{})
	reads := map[string]struct {
		read func() (any, error)
		want any
	}{
		"account":        {func() (any, error) { return s.GetAccount(ctx, want.acct.ID) }, want.acct},
		"account by key": {func() (any, error) { return s.GetAccountByKeyID(ctx, "key-1") }, want.acct},
		"order":          {func() (any, error) { return s.GetOrder(ctx, want.order.ID) }, want.order},
		"reusable order": {func() (any, error) {
			return s.FindReusableOrder(ctx, store.OrderKey{AccountID: want.acct.ID,
				Identifiers: want.order.Identifiers, Profile: "classic"}, t0())
		}, want.order},
		"authzs": {func() (any, error) { return s.GetAuthzs(ctx, want.order.AuthzIDs) }, want.authzs},
		"valid authz": {func() (any, error) {
			return s.FindValidAuthz(ctx, store.AuthzKey{AccountID: want.acct.ID, Identifier: dns("a.example"),
				Wildcard: true, Profile: "classic"}, t0())
		}, want.authzs[0]},
		"certificate": {func() (any, error) { return s.GetCertificate(ctx, "01") }, want.plain},
		"revoked": {func() (any, error) { return s.RevokedCertificates(ctx, "E5", 3, t0()) },
			[]store.Certificate{want.revoked}},
		"blocked": {func() (any, error) { return s.KeyBlocked(ctx, "blocked") }, true},
	}
	for name, r := range reads {
		t.Run(name, func(t *testing.T) {
			got, err := r.read()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r.want) {
				t.Errorf("after reopening:\n got %+v\nwant %+v", got, r.want)
			}
		})
	}

	a, err := s.CreateAccount(ctx, store.Account{KeyID: "key-2"})
	must(t, err)
	o, err := s.CreateOrder(ctx, store.Order{}, []store.Authorization{{}})
	must(t, err)
	if a.ID != want.acct.ID+1 || o.ID != want.order.ID+1 || o.AuthzIDs[0] != slices.Max(want.order.AuthzIDs)+1 {
		t.Errorf("IDs after reopening: account %d, order %d, authz %d; want the next after %d, %d, %v",
			a.ID, o.ID, o.AuthzIDs[0], want.acct.ID, want.order.ID, want.order.AuthzIDs)
	}
}
