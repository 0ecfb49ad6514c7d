package ca

import (
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

func TestOrderStatus(t *testing.T) {
	t.Parallel()
	now := testStart
	future, past := now.Add(time.Hour), now.Add(-time.Second)
	az := func(st acme.Status, expires time.Time) store.Authorization {
		return store.Authorization{Status: st, Expires: expires}
	}
	valid, pending := az(acme.StatusValid, future), az(acme.StatusPending, future)
	problem := &store.Problem{Type: acme.ServerInternal, Detail: "Error finalizing order :: failed to issue certificate", Status: 500}
	tests := []struct {
		name   string
		order  store.Order
		authzs []store.Authorization
		want   acme.Status
	}{
		{"all pending", store.Order{Expires: future}, []store.Authorization{pending, pending}, acme.StatusPending},
		{"some pending", store.Order{Expires: future}, []store.Authorization{valid, pending}, acme.StatusPending},
		{"all valid", store.Order{Expires: future}, []store.Authorization{valid, valid}, acme.StatusReady},
		{"began processing", store.Order{Expires: future, BeganProcessing: true}, []store.Authorization{valid}, acme.StatusProcessing},
		{"certificate issued", store.Order{Expires: future, BeganProcessing: true, CertSerial: "66"}, []store.Authorization{valid},
			acme.StatusValid},
		{"order error", store.Order{Expires: future, BeganProcessing: true, Error: problem}, []store.Authorization{valid},
			acme.StatusInvalid},
		{"order error beats certificate", store.Order{Expires: future, CertSerial: "66", Error: problem}, []store.Authorization{valid},
			acme.StatusInvalid},
		{"expired pending order", store.Order{Expires: past}, []store.Authorization{pending}, acme.StatusInvalid},
		{"expires exactly now", store.Order{Expires: now}, []store.Authorization{valid}, acme.StatusInvalid},
		{"expired valid order", store.Order{Expires: past, BeganProcessing: true, CertSerial: "66"}, []store.Authorization{valid},
			acme.StatusInvalid},
		{"invalid authorization", store.Order{Expires: future}, []store.Authorization{valid, az(acme.StatusInvalid, future)},
			acme.StatusInvalid},
		{"invalid beats pending", store.Order{Expires: future}, []store.Authorization{pending, az(acme.StatusInvalid, future)},
			acme.StatusInvalid},
		{"deactivated authorization", store.Order{Expires: future}, []store.Authorization{az(acme.StatusDeactivated, future)},
			acme.StatusInvalid},
		{"revoked authorization", store.Order{Expires: future}, []store.Authorization{az(acme.StatusRevoked, future)},
			acme.StatusInvalid},
		{"expired valid authorization", store.Order{Expires: future}, []store.Authorization{az(acme.StatusValid, past)},
			acme.StatusInvalid},
		{"expired pending authorization", store.Order{Expires: future}, []store.Authorization{az(acme.StatusPending, now)},
			acme.StatusInvalid},
		{"processing challenge keeps the authorization pending", store.Order{Expires: future},
			[]store.Authorization{{Status: acme.StatusPending, Expires: future,
				Challenges: []store.Challenge{{Status: acme.StatusProcessing}}}}, acme.StatusPending},
		{"pending authorization beats began processing", store.Order{Expires: future, BeganProcessing: true},
			[]store.Authorization{pending}, acme.StatusPending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := orderStatus(tc.order, tc.authzs, now); got != tc.want {
				t.Errorf("orderStatus = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAuthzStatus(t *testing.T) {
	t.Parallel()
	now := testStart
	tests := []struct {
		status  acme.Status
		expires time.Time
		want    acme.Status
	}{
		{acme.StatusPending, now.Add(time.Second), acme.StatusPending},
		{acme.StatusPending, now, acme.StatusExpired},
		{acme.StatusValid, now.Add(time.Second), acme.StatusValid},
		{acme.StatusValid, now.Add(-time.Second), acme.StatusExpired},
		{acme.StatusInvalid, now.Add(-time.Second), acme.StatusInvalid},
		{acme.StatusDeactivated, now.Add(-time.Second), acme.StatusDeactivated},
		{acme.StatusRevoked, now.Add(-time.Second), acme.StatusRevoked},
	}
	for _, tc := range tests {
		t.Run(string(tc.status)+" "+tc.expires.Sub(now).String(), func(t *testing.T) {
			if got := authzStatus(store.Authorization{Status: tc.status, Expires: tc.expires}, now); got != tc.want {
				t.Errorf("authzStatus = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestTransition checks every pair of statuses against the RFC 8555 §7.1.6
// state machine for authorizations and challenges.
func TestTransition(t *testing.T) {
	t.Parallel()
	all := []acme.Status{acme.StatusPending, acme.StatusProcessing, acme.StatusReady, acme.StatusValid,
		acme.StatusInvalid, acme.StatusDeactivated, acme.StatusExpired, acme.StatusRevoked}
	allowed := map[[2]acme.Status]bool{
		{acme.StatusPending, acme.StatusProcessing}:     true,
		{acme.StatusPending, acme.StatusValid}:          true,
		{acme.StatusPending, acme.StatusInvalid}:        true,
		{acme.StatusPending, acme.StatusDeactivated}:    true,
		{acme.StatusProcessing, acme.StatusValid}:       true,
		{acme.StatusProcessing, acme.StatusInvalid}:     true,
		{acme.StatusProcessing, acme.StatusDeactivated}: true,
		{acme.StatusValid, acme.StatusDeactivated}:      true,
		{acme.StatusValid, acme.StatusRevoked}:          true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				err := transition(from, to)
				if want := allowed[[2]acme.Status{from, to}]; (err == nil) != want {
					t.Errorf("transition(%s, %s) = %v, want allowed %v", from, to, err, want)
				}
				if err != nil && err.Error() != "illegal status transition "+string(from)+" → "+string(to) {
					t.Errorf("error text %q", err)
				}
			})
		}
	}
}
