package storetest

import (
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

func orders(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"create stores the order and its new authzs", orderCreate},
		{"create with an unknown reused authz is not found", orderUnknownAuthz},
		{"missing orders are not found", orderMissing},
		{"update writes and returns the result", orderUpdate},
		{"a failing mutator writes nothing", orderMutatorFails},
		{"values do not alias store memory", orderNoAlias},
	})
}

func orderCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := mustAccount(t, s, "k1")
	prev := mustOrder(t, s, acct.ID, "a.example")
	in := newOrder(acct.ID, "a.example", "b.example", "c.example")
	in.AuthzIDs = []int64{prev.AuthzIDs[0]}
	newAuthzs := []store.Authorization{newAuthz(acct.ID, "b.example"), newAuthz(acct.ID, "c.example")}
	o, err := s.CreateOrder(ctx, in, newAuthzs)
	noErr(t, "CreateOrder", err)
	if o.ID <= 0 || o.ID == prev.ID {
		t.Errorf("order ID %d, want positive and not %d", o.ID, prev.ID)
	}
	if len(o.AuthzIDs) != 3 || o.AuthzIDs[0] != prev.AuthzIDs[0] {
		t.Fatalf("AuthzIDs %v, want [%d new new]", o.AuthzIDs, prev.AuthzIDs[0])
	}
	if o.AuthzIDs[1] == o.AuthzIDs[2] || o.AuthzIDs[1] == o.AuthzIDs[0] || o.AuthzIDs[2] == o.AuthzIDs[0] {
		t.Errorf("AuthzIDs %v are not distinct", o.AuthzIDs)
	}
	want := in
	want.ID, want.AuthzIDs = o.ID, o.AuthzIDs
	same(t, "CreateOrder result", o, want)
	got, err := s.GetOrder(ctx, o.ID)
	noErr(t, "GetOrder", err)
	same(t, "GetOrder", got, want)

	authzs, err := s.GetAuthzs(ctx, o.AuthzIDs)
	noErr(t, "GetAuthzs", err)
	wantAuthzs := []store.Authorization{newAuthz(acct.ID, "a.example"), newAuthzs[0], newAuthzs[1]}
	for i := range wantAuthzs {
		wantAuthzs[i].ID = o.AuthzIDs[i]
	}
	same(t, "the order's authzs", authzs, wantAuthzs)
}

func orderUnknownAuthz(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := mustAccount(t, s, "k1")
	prev := mustOrder(t, s, acct.ID, "a.example")
	in := newOrder(acct.ID, "a.example")
	in.AuthzIDs = []int64{prev.AuthzIDs[0] + 1000}
	_, err := s.CreateOrder(ctx, in, nil)
	wantErr(t, "CreateOrder", err, store.ErrNotFound)
}

func orderMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	_, err := s.GetOrder(ctx, o.ID+1000)
	wantErr(t, "GetOrder", err, store.ErrNotFound)
	_, err = s.UpdateOrder(ctx, o.ID+1000, func(*store.Order) error { return nil })
	wantErr(t, "UpdateOrder", err, store.ErrNotFound)
}

func orderUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	got, err := s.UpdateOrder(ctx, o.ID, func(o *store.Order) error {
		o.BeganProcessing, o.Error, o.CertSerial = true, problem(), "00aa"
		return nil
	})
	noErr(t, "UpdateOrder", err)
	want := o
	want.BeganProcessing, want.Error, want.CertSerial = true, problem(), "00aa"
	same(t, "UpdateOrder result", got, want)
	read, err := s.GetOrder(ctx, o.ID)
	noErr(t, "GetOrder", err)
	same(t, "GetOrder after update", read, want)
}

func orderMutatorFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	cases := map[string]func(*store.Order) error{
		"mutator error": func(o *store.Order) error {
			o.BeganProcessing, o.AuthzIDs[0] = true, 0
			return errMutate
		},
		"ID changed": func(o *store.Order) error { o.ID++; return nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.UpdateOrder(ctx, o.ID, mutate); err == nil {
				t.Fatal("UpdateOrder succeeded")
			}
			got, err := s.GetOrder(ctx, o.ID)
			noErr(t, "GetOrder", err)
			same(t, "order after failed update", got, o)
		})
	}
	_, err := s.UpdateOrder(ctx, o.ID, cases["mutator error"])
	wantErr(t, "UpdateOrder", err, errMutate)
}

func orderNoAlias(t *testing.T, s store.Store) {
	ctx := t.Context()
	acct := mustAccount(t, s, "k1")
	in := newOrder(acct.ID, "a.example")
	in.Error = problem()
	newAuthzs := []store.Authorization{newAuthz(acct.ID, "a.example")}
	o, err := s.CreateOrder(ctx, in, newAuthzs)
	noErr(t, "CreateOrder", err)
	want := deepCopy(o)
	in.Identifiers[0].Value, in.Error.Detail, in.Error.Identifier.Value = "x", "x", "x"
	in.Error.Subproblems[0].Detail = "x"
	newAuthzs[0].Challenges[0].Token = "x"
	o.Identifiers[0].Value, o.AuthzIDs[0], o.Error.Subproblems[0].Identifier.Value = "y", 0, "y"
	got, err := s.GetOrder(ctx, want.ID)
	noErr(t, "GetOrder", err)
	same(t, "after changing create's input and result", got, want)
	a, err := s.GetAuthz(ctx, want.AuthzIDs[0])
	noErr(t, "GetAuthz", err)
	if tok := a.Challenges[0].Token; tok == "x" {
		t.Errorf("authz token changed with CreateOrder's input")
	}

	got.Identifiers[0].Value, got.Error.Detail = "z", "z"
	var kept *store.Order
	upd, err := s.UpdateOrder(ctx, want.ID, func(o *store.Order) error {
		kept = o
		o.CertSerial = "01"
		return nil
	})
	noErr(t, "UpdateOrder", err)
	want.CertSerial = "01"
	kept.Identifiers[0].Value, kept.Error.Subproblems[0].Detail, kept.AuthzIDs[0] = "w", "w", 0
	upd.Identifiers[0].Value, upd.Error.Identifier.Value = "v", "v"
	got, err = s.GetOrder(ctx, want.ID)
	noErr(t, "GetOrder", err)
	same(t, "after changing read, mutated and updated values", got, want)
}

func reusableOrders(t *testing.T, newStore func(*testing.T) store.Store) {
	names := []string{"a.example", "b.example"}
	cases := map[string]struct {
		expires []time.Duration // one order per element, expiring base+d
		began   []int           // orders that have begun processing
		key     func(acct, other int64) store.OrderKey
		now     time.Time
		want    int // index of the order found, -1 for none
	}{
		"same account, identifiers and profile": {expires: []time.Duration{7 * day}, want: 0},
		"other profile": {expires: []time.Duration{7 * day}, want: -1,
			key: func(acct, _ int64) store.OrderKey {
				return store.OrderKey{AccountID: acct, Identifiers: idents(names...), Profile: "shortlived"}
			}},
		"no profile": {expires: []time.Duration{7 * day}, want: -1,
			key: func(acct, _ int64) store.OrderKey {
				return store.OrderKey{AccountID: acct, Identifiers: idents(names...)}
			}},
		"other account": {expires: []time.Duration{7 * day}, want: -1,
			key: func(_, other int64) store.OrderKey {
				return store.OrderKey{AccountID: other, Identifiers: idents(names...), Profile: "classic"}
			}},
		"subset of identifiers": {expires: []time.Duration{7 * day}, want: -1,
			key: func(acct, _ int64) store.OrderKey {
				return store.OrderKey{AccountID: acct, Identifiers: idents(names[0]), Profile: "classic"}
			}},
		"expires at now":             {expires: []time.Duration{7 * day}, now: base().Add(7 * day), want: -1},
		"expires a second after now": {expires: []time.Duration{7 * day}, now: base().Add(7*day - time.Second), want: 0},
		"began processing":           {expires: []time.Duration{7 * day}, began: []int{0}, want: -1},
		"newest wins":                {expires: []time.Duration{7 * day, 7 * day, 7 * day}, want: 2},
		"newest began processing":    {expires: []time.Duration{7 * day, 7 * day}, began: []int{1}, want: 0},
		"newest expired":             {expires: []time.Duration{7 * day, time.Hour}, now: base().Add(2 * time.Hour), want: 0},
		"all expired":                {expires: []time.Duration{time.Hour, 2 * time.Hour}, now: base().Add(3 * time.Hour), want: -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, ctx := newStore(t), t.Context()
			acct, other := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
			mustOrder(t, s, other.ID, "a.example") // a distractor under another key
			var created []store.Order
			for _, d := range tc.expires {
				in := newOrder(acct.ID, names...)
				in.Expires = base().Add(d)
				o, err := s.CreateOrder(ctx, in, []store.Authorization{newAuthz(acct.ID, "a.example")})
				noErr(t, "CreateOrder", err)
				created = append(created, o)
			}
			for _, i := range tc.began {
				_, err := s.UpdateOrder(ctx, created[i].ID, func(o *store.Order) error {
					o.BeganProcessing = true
					return nil
				})
				noErr(t, "UpdateOrder", err)
			}
			key := store.OrderKey{AccountID: acct.ID, Identifiers: idents(names...), Profile: "classic"}
			if tc.key != nil {
				key = tc.key(acct.ID, other.ID)
			}
			now := tc.now
			if now.IsZero() {
				now = base()
			}
			for attempt := range 2 { // the second look-up sees what the first left
				got, err := s.FindReusableOrder(ctx, key, now)
				if tc.want < 0 {
					wantErr(t, "FindReusableOrder", err, store.ErrNotFound)
					continue
				}
				noErr(t, "FindReusableOrder", err)
				if got.ID != created[tc.want].ID {
					t.Fatalf("look-up %d found order %d, want %d (orders %v)", attempt, got.ID,
						created[tc.want].ID, orderIDs(created))
				}
				same(t, "found order", got, created[tc.want])
			}
		})
	}
}

func idents(names ...string) []acme.Identifier {
	var ids []acme.Identifier
	for _, n := range names {
		ids = append(ids, dns(n))
	}
	return ids
}

func orderIDs(os []store.Order) []int64 {
	var ids []int64
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	return ids
}
