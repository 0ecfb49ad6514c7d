package ca

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/store"
)

// unfinishedWork is what a crashed process left in its store: an order
// that began processing and an authorization whose challenge is being
// validated, both acknowledged to the client.
type unfinishedWork struct {
	acct           store.Account
	order, authz   int64
	token, acctURI string
}

// leaveUnfinished fills st like a process killed after answering a
// finalize with "processing" (the order keeps csr) and a challenge POST
// with 200.
func leaveUnfinished(t testing.TB, st store.Store, csr []byte) unfinishedWork {
	t.Helper()
	ctx := context.Background()
	key := newKey(t)
	jwk := jwkOf(t, key.Public())
	parsed, err := parseJWK(jwk)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keyID(parsed)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.CreateAccount(ctx, store.Account{JWK: jwk, KeyID: kid, Status: acme.StatusValid, CreatedAt: testStart})
	if err != nil {
		t.Fatal(err)
	}
	w := unfinishedWork{acct: acct, token: "tok-resume", acctURI: "https://ca.test/acme/acct/1"}
	authz := func(name string, ch store.Challenge) store.Authorization {
		return store.Authorization{AccountID: acct.ID, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: name},
			Status: acme.StatusPending, Created: testStart, Expires: testStart.Add(24 * time.Hour),
			Challenges: []store.Challenge{ch}}
	}
	valid := authz("issue.resume.test", store.Challenge{Type: acme.ChallengeHTTP01, Token: "t1",
		Status: acme.StatusValid, Validated: testStart})
	valid.Status = acme.StatusValid
	o, err := st.CreateOrder(ctx, store.Order{AccountID: acct.ID, Identifiers: dnsIDs("issue.resume.test"),
		Created: testStart, Expires: testStart.Add(24 * time.Hour), BeganProcessing: true, CSR: csr},
		[]store.Authorization{valid})
	if err != nil {
		t.Fatal(err)
	}
	held, err := st.CreateOrder(ctx, store.Order{AccountID: acct.ID, Identifiers: dnsIDs("validate.resume.test"),
		Created: testStart, Expires: testStart.Add(24 * time.Hour)},
		[]store.Authorization{authz("validate.resume.test", store.Challenge{Type: acme.ChallengeDNS01,
			Token: w.token, Status: acme.StatusProcessing, AccountURI: w.acctURI})})
	if err != nil {
		t.Fatal(err)
	}
	w.order, w.authz = o.ID, held.AuthzIDs[0]
	return w
}

// TestRunResumesUnfinishedWork: Run finishes the issuance and the
// validation that a previous process acknowledged, with the stored CSR and
// the validation request the client's challenge POST would have made.
func TestRunResumesUnfinishedWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		csr       func(t *testing.T) []byte
		verr      error
		wantOrder string // "valid", or the stored problem's detail
		wantAuthz acme.Status
	}{
		{"both succeed", func(t *testing.T) []byte { return makeCSR(t, newKey(t), "issue.resume.test") }, nil,
			"valid", acme.StatusValid},
		{"the validation fails", func(t *testing.T) []byte { return makeCSR(t, newKey(t), "issue.resume.test") },
			acme.New(acme.Unauthorized, "no TXT record"), "valid", acme.StatusInvalid},
		{"an unreadable CSR fails the order", func(*testing.T) []byte { return []byte{0x30, 0x00} }, nil,
			detailIssuanceFailed, acme.StatusValid},
		{"an order without a CSR fails", func(*testing.T) []byte { return nil }, nil,
			detailIssuanceFailed, acme.StatusValid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu   sync.Mutex
				seen []challengeval.Request
				w    unfinishedWork
			)
			val := validatorFunc(func(_ context.Context, req challengeval.Request) error {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, req)
				return tc.verr
			})
			csr := tc.csr(t)
			e := newEnv(t, envConfig{validator: val, wrapStore: func(s store.Store) store.Store {
				w = leaveUnfinished(t, s, csr)
				return s
			}})
			ctx := t.Context()
			var o store.Order
			waitFor(t, "the resumed issuance", func() bool {
				var err error
				o, err = e.store.GetOrder(ctx, w.order)
				return err == nil && !o.Unfinished()
			})
			switch {
			case tc.wantOrder == "valid" && o.CertSerial == "":
				t.Errorf("order after resuming: %+v, want a certificate", o)
			case tc.wantOrder != "valid" && (o.Error == nil || o.Error.Type != acme.ServerInternal || o.Error.Detail != tc.wantOrder):
				t.Errorf("order after resuming: error %+v, want serverInternal %q", o.Error, tc.wantOrder)
			}
			if tc.wantOrder == "valid" {
				if _, err := e.store.GetCertificate(ctx, o.CertSerial); err != nil {
					t.Errorf("certificate %s: %v", o.CertSerial, err)
				}
			}
			var a store.Authorization
			waitFor(t, "the resumed validation", func() bool {
				var err error
				a, err = e.store.GetAuthz(ctx, w.authz)
				return err == nil && !a.Unfinished()
			})
			if a.Status != tc.wantAuthz || a.Challenges[0].Status != tc.wantAuthz {
				t.Errorf("authz after resuming: %s, challenge %s; want %s", a.Status, a.Challenges[0].Status, tc.wantAuthz)
			}
			mu.Lock()
			defer mu.Unlock()
			wantKeyAuthz := w.token + "." + w.acct.KeyID
			if len(seen) != 1 || seen[0].Type != acme.ChallengeDNS01 || seen[0].Token != w.token ||
				seen[0].KeyAuthorization != wantKeyAuthz || seen[0].AccountURI != w.acctURI ||
				seen[0].Identifier.Value != "validate.resume.test" {
				t.Errorf("validator saw %+v, want one dns-01 request with key authorization %q and account %q",
					seen, wantKeyAuthz, w.acctURI)
			}
			if orders, authzs, err := e.store.Unfinished(ctx); err != nil || len(orders)+len(authzs) != 0 {
				t.Errorf("still unfinished: %v, %v, %v", orders, authzs, err)
			}
		})
	}
}

// TestProcessingStoresWhatResumeNeeds: finalize keeps the CSR with the
// order, and a challenge POST keeps the account URL the client was shown.
func TestProcessingStoresWhatResumeNeeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	o, orderURL := acct.newOrder("stored.resume.test")
	acct.authorize(o)
	csr := makeCSR(t, newKey(t), "stored.resume.test")
	wantStatus(t, acct.finalize(o, csr), http.StatusOK)
	e.waitOrder(orderURL)
	ctx := t.Context()
	so, err := e.store.GetOrder(ctx, lastID(t, orderURL))
	if err != nil || !bytes.Equal(so.CSR, csr) {
		t.Errorf("stored order: CSR %x, %v; want the finalized CSR", so.CSR, err)
	}
	a, err := e.store.GetAuthz(ctx, so.AuthzIDs[0])
	if err != nil || a.Challenges[0].AccountURI != acct.kid {
		t.Errorf("stored challenge: account URI %q, %v; want %q", a.Challenges[0].AccountURI, err, acct.kid)
	}
}

// TestResumeDoesNotRepeatFinishedWork: a resumed job that comes after its
// work was finished by another does nothing.
func TestResumeDoesNotRepeatFinishedWork(t *testing.T) {
	t.Parallel()
	calls := 0
	var mu sync.Mutex
	val := validatorFunc(func(context.Context, challengeval.Request) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return nil
	})
	var (
		w        unfinishedWork
		stale    store.Order
		staleAzs []store.Authorization
	)
	e := newEnv(t, envConfig{validator: val, wrapStore: func(s store.Store) store.Store {
		ctx := context.Background()
		w = leaveUnfinished(t, s, makeCSR(t, newKey(t), "issue.resume.test"))
		orders, authzs, err := s.Unfinished(ctx) // read as unfinished, then finished by others
		if err != nil || len(orders) != 1 {
			t.Fatalf("Unfinished: %v, %v", orders, err)
		}
		stale, staleAzs = orders[0], authzs
		if _, err := s.UpdateOrder(ctx, w.order, func(o *store.Order) error { o.CertSerial = "01"; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateAuthz(ctx, w.authz, func(a *store.Authorization) error {
			a.Status = acme.StatusDeactivated
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return s
	}})
	ctx := t.Context()
	if err := e.srv.resumeIssuance(ctx, stale); err != nil {
		t.Fatal(err)
	}
	for _, a := range staleAzs {
		if err := e.srv.resumeValidation(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the jobs to run", func() bool {
		_, orderClaimed := e.srv.claims.m.Load(claimKey{claimOrder, w.order})
		_, authzClaimed := e.srv.claims.m.Load(claimKey{claimAuthz, w.authz})
		return !orderClaimed && !authzClaimed
	})
	if o, err := e.store.GetOrder(ctx, w.order); err != nil || o.CertSerial != "01" || o.Error != nil {
		t.Errorf("order after a late resumed issuance: %+v, %v; want it unchanged", o, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("the validator ran %d times for a deactivated authorization", calls)
	}
}
