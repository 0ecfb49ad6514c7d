package storetest

import (
	"errors"
	"testing"

	"github.com/fakeca/fakeca/store"
)

// errorTexts: every backend's errors name the object, so a log line says
// which order or key was missing, and still match the sentinels.
func errorTexts(t *testing.T, newStore func(*testing.T) store.Store) {
	ctx := t.Context()
	s := newStore(t)
	if err := s.AddCertificate(ctx, store.Certificate{Serial: "0a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccount(ctx, store.Account{KeyID: "k"}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		call   func() error
		target error
		want   string
	}{
		"order": {func() error { _, err := s.GetOrder(ctx, 12); return err }, store.ErrNotFound,
			"order 12: store: not found"},
		"authz": {func() error { _, err := s.UpdateAuthz(ctx, 7, nil); return err }, store.ErrNotFound,
			"authz 7: store: not found"},
		"authzs": {func() error { _, err := s.GetAuthzs(ctx, []int64{9}); return err }, store.ErrNotFound,
			"authz 9: store: not found"},
		"account": {func() error { _, err := s.GetAccount(ctx, 3); return err }, store.ErrNotFound,
			"account 3: store: not found"},
		"account key": {func() error { _, err := s.GetAccountByKeyID(ctx, "nope"); return err },
			store.ErrNotFound, `account key "nope": store: not found`},
		"certificate": {func() error { _, err := s.GetCertificate(ctx, "ff"); return err }, store.ErrNotFound,
			"certificate ff: store: not found"},
		"serial conflict": {func() error { return s.AddCertificate(ctx, store.Certificate{Serial: "0a"}) },
			store.ErrConflict, "certificate 0a: store: conflict"},
		"key conflict": {func() error { _, err := s.CreateAccount(ctx, store.Account{KeyID: "k"}); return err },
			store.ErrConflict, `account key "k": store: conflict`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.target) || err.Error() != tc.want {
				t.Errorf("error %q, want %q matching %v", err, tc.want, tc.target)
			}
		})
	}
}
