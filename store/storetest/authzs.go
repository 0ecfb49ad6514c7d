package storetest

import (
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

func authzs(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"GetAuthzs keeps the order asked for", authzsInOrder},
		{"missing authzs are not found", authzMissing},
		{"update writes and returns the result", authzUpdate},
		{"a failing mutator writes nothing", authzMutatorFails},
		{"values do not alias store memory", authzNoAlias},
	})
}

func authzsInOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example", "b.example", "c.example")
	a, b, c := o.AuthzIDs[0], o.AuthzIDs[1], o.AuthzIDs[2]
	cases := map[string][]int64{
		"none":     {},
		"one":      {b},
		"reversed": {c, b, a},
		"repeated": {b, a, b},
	}
	for name, ids := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := s.GetAuthzs(ctx, ids)
			noErr(t, "GetAuthzs", err)
			if len(got) != len(ids) {
				t.Fatalf("got %d authzs, want %d", len(got), len(ids))
			}
			for i := range ids {
				if got[i].ID != ids[i] {
					t.Errorf("authz %d has ID %d, want %d", i, got[i].ID, ids[i])
				}
			}
		})
	}
	_, err := s.GetAuthzs(ctx, []int64{a, c + 1000, b})
	wantErr(t, "GetAuthzs with a missing ID", err, store.ErrNotFound)
}

func authzMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	_, err := s.GetAuthz(ctx, o.AuthzIDs[0]+1000)
	wantErr(t, "GetAuthz", err, store.ErrNotFound)
	_, err = s.UpdateAuthz(ctx, o.AuthzIDs[0]+1000, func(*store.Authorization) error { return nil })
	wantErr(t, "UpdateAuthz", err, store.ErrNotFound)
}

func authzUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	before, err := s.GetAuthz(ctx, o.AuthzIDs[0])
	noErr(t, "GetAuthz", err)
	got, err := s.UpdateAuthz(ctx, before.ID, func(a *store.Authorization) error {
		a.Status = acme.StatusInvalid
		a.Challenges[1].Status, a.Challenges[1].Error = acme.StatusInvalid, problem()
		a.Challenges[1].Validated = base().Add(time.Minute)
		return nil
	})
	noErr(t, "UpdateAuthz", err)
	want := before
	want.Status = acme.StatusInvalid
	want.Challenges = append([]store.Challenge(nil), before.Challenges...)
	want.Challenges[1].Status, want.Challenges[1].Error = acme.StatusInvalid, problem()
	want.Challenges[1].Validated = base().Add(time.Minute)
	same(t, "UpdateAuthz result", got, want)
	read, err := s.GetAuthz(ctx, before.ID)
	noErr(t, "GetAuthz", err)
	same(t, "GetAuthz after update", read, want)
}

func authzMutatorFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	before, err := s.GetAuthz(ctx, o.AuthzIDs[0])
	noErr(t, "GetAuthz", err)
	cases := map[string]func(*store.Authorization) error{
		"mutator error": func(a *store.Authorization) error {
			a.Status, a.Challenges[0].Status = acme.StatusValid, acme.StatusValid
			return errMutate
		},
		"ID changed": func(a *store.Authorization) error { a.ID++; return nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.UpdateAuthz(ctx, before.ID, mutate); err == nil {
				t.Fatal("UpdateAuthz succeeded")
			}
			got, err := s.GetAuthz(ctx, before.ID)
			noErr(t, "GetAuthz", err)
			same(t, "authz after failed update", got, before)
			_, err = s.FindValidAuthz(ctx, keyOf(before), base())
			wantErr(t, "FindValidAuthz", err, store.ErrNotFound)
		})
	}
	_, err = s.UpdateAuthz(ctx, before.ID, cases["mutator error"])
	wantErr(t, "UpdateAuthz", err, errMutate)
}

func authzNoAlias(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	id := o.AuthzIDs[0]
	_, err := s.UpdateAuthz(ctx, id, func(a *store.Authorization) error {
		a.Challenges[0].Error = problem()
		return nil
	})
	noErr(t, "UpdateAuthz", err)
	got, err := s.GetAuthz(ctx, id)
	noErr(t, "GetAuthz", err)
	want := deepCopy(got)
	got, err = s.GetAuthz(ctx, id)
	noErr(t, "GetAuthz", err)
	got.Challenges[0].Token, got.Challenges[0].Error.Detail = "x", "x"
	got.Challenges[0].Error.Subproblems[0].Identifier.Value = "x"
	var kept *store.Authorization
	upd, err := s.UpdateAuthz(ctx, id, func(a *store.Authorization) error {
		kept = a
		a.Profile = "shortlived"
		return nil
	})
	noErr(t, "UpdateAuthz", err)
	kept.Challenges[1].Status, kept.Challenges[0].Error.Identifier.Value = acme.StatusValid, "w"
	upd.Challenges[2].Token, upd.Challenges[0].Error.Subproblems[0].Detail = "v", "v"
	got, err = s.GetAuthz(ctx, id)
	noErr(t, "GetAuthz", err)
	want.Profile = "shortlived"
	same(t, "after changing read, mutated and updated values", got, want)
}

func keyOf(a store.Authorization) store.AuthzKey {
	return store.AuthzKey{AccountID: a.AccountID, Identifier: a.Identifier, Wildcard: a.Wildcard, Profile: a.Profile}
}

// authzSpec is one authorization of a FindValidAuthz case: created pending
// (or as created), then updated through statuses in turn.
type authzSpec struct {
	name     string
	wildcard bool
	profile  string
	expires  time.Duration // after base
	created  acme.Status   // status at creation; pending if empty
	statuses []acme.Status
}

func validAuthzs(t *testing.T, newStore func(*testing.T) store.Store) {
	valid := []acme.Status{acme.StatusValid}
	plain := func(d time.Duration, st ...acme.Status) authzSpec {
		return authzSpec{name: "a.example", profile: "classic", expires: d, statuses: st}
	}
	key := store.AuthzKey{Identifier: dns("a.example"), Profile: "classic"}
	cases := map[string]struct {
		authzs    []authzSpec
		key       func(k store.AuthzKey, other int64) store.AuthzKey
		minExpiry time.Duration // after base
		want      int           // index of the authz found, -1 for none
	}{
		"pending":                 {authzs: []authzSpec{plain(30 * day)}, want: -1},
		"valid":                   {authzs: []authzSpec{plain(30*day, valid...)}, want: 0},
		"created valid":           {authzs: []authzSpec{{name: "a.example", profile: "classic", expires: 30 * day, created: acme.StatusValid}}, want: 0},
		"invalid":                 {authzs: []authzSpec{plain(30*day, acme.StatusInvalid)}, want: -1},
		"deactivated after valid": {authzs: []authzSpec{plain(30*day, acme.StatusValid, acme.StatusDeactivated)}, want: -1},
		"valid again":             {authzs: []authzSpec{plain(30*day, acme.StatusValid, acme.StatusDeactivated, acme.StatusValid)}, want: 0},
		"expires at minExpiry":    {authzs: []authzSpec{plain(30*day, valid...)}, minExpiry: 30 * day, want: -1},
		"expires after minExpiry": {authzs: []authzSpec{plain(30*day, valid...)}, minExpiry: 30*day - time.Second, want: 0},
		"wildcard for a plain key": {want: -1,
			authzs: []authzSpec{{name: "a.example", wildcard: true, profile: "classic", expires: 30 * day, statuses: valid}}},
		"plain for a wildcard key": {authzs: []authzSpec{plain(30*day, valid...)}, want: -1,
			key: func(k store.AuthzKey, _ int64) store.AuthzKey { k.Wildcard = true; return k }},
		"wildcard for a wildcard key": {want: 0,
			authzs: []authzSpec{{name: "a.example", wildcard: true, profile: "classic", expires: 30 * day, statuses: valid}},
			key:    func(k store.AuthzKey, _ int64) store.AuthzKey { k.Wildcard = true; return k }},
		"other profile": {authzs: []authzSpec{plain(30*day, valid...)}, want: -1,
			key: func(k store.AuthzKey, _ int64) store.AuthzKey { k.Profile = "shortlived"; return k }},
		"other account": {authzs: []authzSpec{plain(30*day, valid...)}, want: -1,
			key: func(k store.AuthzKey, other int64) store.AuthzKey { k.AccountID = other; return k }},
		"other identifier": {authzs: []authzSpec{plain(30*day, valid...)}, want: -1,
			key: func(k store.AuthzKey, _ int64) store.AuthzKey { k.Identifier = dns("b.example"); return k }},
		"latest expiry wins": {want: 1,
			authzs: []authzSpec{plain(10*day, valid...), plain(30*day, valid...), plain(20*day, valid...), plain(40 * day)}},
		"latest expiry deactivated": {want: 2,
			authzs: []authzSpec{plain(10*day, valid...), plain(30*day, acme.StatusValid, acme.StatusDeactivated), plain(20*day, valid...)}},
		"only the earliest is late enough": {minExpiry: 15 * day, want: 1,
			authzs: []authzSpec{plain(10*day, valid...), plain(20*day, valid...), plain(12*day, valid...)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			acct, other := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
			ids := makeAuthzs(t, s, acct.ID, tc.authzs)
			k := key
			k.AccountID = acct.ID
			if tc.key != nil {
				k = tc.key(k, other.ID)
			}
			for attempt := range 2 { // the second look-up sees what the first left
				got, err := s.FindValidAuthz(t.Context(), k, base().Add(tc.minExpiry))
				if tc.want < 0 {
					wantErr(t, "FindValidAuthz", err, store.ErrNotFound)
					continue
				}
				noErr(t, "FindValidAuthz", err)
				if got.ID != ids[tc.want] {
					t.Fatalf("look-up %d found authz %d, want %d (authzs %v)", attempt, got.ID, ids[tc.want], ids)
				}
				if got.Status != acme.StatusValid || !got.Expires.Equal(base().Add(tc.authzs[tc.want].expires)) {
					t.Errorf("found status %s expires %v", got.Status, got.Expires)
				}
			}
		})
	}
}

// makeAuthzs creates the authorizations of specs, one order each, and takes
// each through its statuses. It returns their IDs.
func makeAuthzs(t *testing.T, s store.Store, account int64, specs []authzSpec) []int64 {
	t.Helper()
	ctx := t.Context()
	var ids []int64
	for _, sp := range specs {
		a := newAuthz(account, sp.name)
		a.Wildcard, a.Profile, a.Expires = sp.wildcard, sp.profile, base().Add(sp.expires)
		if sp.created != "" {
			a.Status = sp.created
		}
		name := sp.name
		if sp.wildcard {
			name = "*." + name
		}
		o := newOrder(account, name)
		o.Profile = sp.profile
		o, err := s.CreateOrder(ctx, o, []store.Authorization{a})
		noErr(t, "CreateOrder", err)
		id := o.AuthzIDs[0]
		for _, st := range sp.statuses {
			_, err := s.UpdateAuthz(ctx, id, func(a *store.Authorization) error {
				a.Status = st
				return nil
			})
			noErr(t, "UpdateAuthz", err)
		}
		ids = append(ids, id)
	}
	return ids
}
