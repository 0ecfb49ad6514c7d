// Package storetest is the conformance suite for store.Store: every backend
// runs Run from its own tests and must pass all of it.
//
// The suite checks the contract documented on store.Store and its methods:
// create, read and update of every kind of object; ErrNotFound and
// ErrConflict; that values going in and out never alias store memory; that a
// failing mutator writes nothing; the reuse look-ups FindReusableOrder and
// FindValidAuthz; an account's orders list, AccountOrders; the index of unfinished work, Unfinished; and concurrent use, which is only meaningful under -race.
//
// Values are compared field by field with time.Time.Equal and with nil and
// empty slices treated alike, so a backend that serialises values (UTC
// times, gob's empty-slice-as-nil) passes as long as it keeps the data. The
// suite's times have whole seconds.
//
// In DESIGN.md's graph storetest is a test helper of store: it imports store
// and acme, and only _test.go files import it.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// Run runs the conformance suite as subtests of t. newStore must return a
// new, empty store each time it is called; it may register cleanups on the
// t it is given. Run is safe to call from parallel tests if newStore is.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		run  func(*testing.T, func(*testing.T) store.Store)
	}{
		{"accounts", accounts},
		{"account keys", accountKeys},
		{"orders", orders},
		{"reusable orders", reusableOrders},
		{"account orders", accountOrders},
		{"authzs", authzs},
		{"valid authzs", validAuthzs},
		{"certificates", certificates},
		{"blocked keys", blockedKeys},
		{"errors name the object", errorTexts},
		{"unfinished work", unfinished},
		{"canceled context", canceled},
		{"concurrency", concurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, newStore) })
	}
}

// subtest is one named check on a fresh store.
type subtest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// runAll runs each subtest on its own new store.
func runAll(t *testing.T, newStore func(*testing.T) store.Store, tests []subtest) {
	for _, st := range tests {
		t.Run(st.name, func(t *testing.T) { st.run(t, newStore(t)) })
	}
}

// errMutate is what the suite's failing mutators return.
var errMutate = errors.New("storetest: mutator refused")

// base is the suite's "now": a fixed UTC time with whole seconds.
func base() time.Time { return time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC) }

const day = 24 * time.Hour

func dns(name string) acme.Identifier { return acme.Identifier{Type: acme.TypeDNS, Value: name} }

func newAccount(key string) store.Account {
	return store.Account{
		JWK:       []byte(`{"kty":"EC","crv":"P-256","x":"` + key + `","y":"y"}`),
		KeyID:     key,
		Status:    acme.StatusValid,
		Contact:   []string{"mailto:admin@example.com"},
		CreatedAt: base(),
		InitialIP: "127.0.0.1",
	}
}

func newOrder(account int64, names ...string) store.Order {
	o := store.Order{
		AccountID: account,
		Profile:   "classic",
		Created:   base(),
		Expires:   base().Add(7 * day),
	}
	for _, n := range names {
		o.Identifiers = append(o.Identifiers, dns(n))
	}
	return o
}

func newAuthz(account int64, name string) store.Authorization {
	a := store.Authorization{
		AccountID:  account,
		Identifier: dns(name),
		Profile:    "classic",
		Status:     acme.StatusPending,
		Created:    base(),
		Expires:    base().Add(7 * day),
	}
	for _, typ := range []string{acme.ChallengeHTTP01, acme.ChallengeDNS01, acme.ChallengeTLSALPN01} {
		a.Challenges = append(a.Challenges, store.Challenge{
			Type: typ, Token: "token-" + typ + "-" + name, Status: acme.StatusPending,
		})
	}
	return a
}

func newCert(serial string, account, order int64) store.Certificate {
	return store.Certificate{
		Serial:      serial,
		AccountID:   account,
		OrderID:     order,
		DER:         []byte{0x30, 0x82, 0x01, 0x0a},
		IssuerID:    "E5",
		Identifiers: []acme.Identifier{dns("a.example")},
		Issued:      base(),
		Expires:     base().Add(90 * day),
		KeyHash:     "keyhash",
	}
}

func problem() *store.Problem {
	id := dns("a.example")
	return &store.Problem{
		Type: acme.Unauthorized, Detail: "nope", Status: 403, Identifier: &id,
		Subproblems: []store.Problem{{Type: acme.DNS, Detail: "NXDOMAIN", Status: 400, Identifier: &id}},
	}
}

// mustAccount creates an account with the key or fails the test.
func mustAccount(t *testing.T, s store.Store, key string) store.Account {
	t.Helper()
	a, err := s.CreateAccount(t.Context(), newAccount(key))
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", key, err)
	}
	return a
}

// mustOrder creates an order with one new authorization per name.
func mustOrder(t *testing.T, s store.Store, account int64, names ...string) store.Order {
	t.Helper()
	var authzs []store.Authorization
	for _, n := range names {
		authzs = append(authzs, newAuthz(account, n))
	}
	o, err := s.CreateOrder(t.Context(), newOrder(account, names...), authzs)
	if err != nil {
		t.Fatalf("CreateOrder(%v): %v", names, err)
	}
	return o
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one matching %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// same reports an error unless got and want hold the same data (see the
// package comment for what "same" means).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equal(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(v any) string { return fmt.Sprintf("%+v", v) }

func equal(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == reflect.TypeFor[time.Time]() {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// deepCopy returns a copy of v that shares no slice or pointer with it,
// for keeping an expected value while the test scribbles on the original.
func deepCopy[T any](v T) T {
	return deepValue(reflect.ValueOf(v)).Interface().(T)
}

func deepValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepValue(v.Elem()))
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(deepValue(v.Index(i)))
		}
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		for i := range v.NumField() {
			if n.Field(i).CanSet() {
				n.Field(i).Set(deepValue(v.Field(i)))
			}
		}
		return n
	}
	return v
}

// counter reads a count the concurrency tests keep in a time: seconds after
// base.
func counter(t time.Time) int64 { return int64(t.Sub(base()) / time.Second) }
