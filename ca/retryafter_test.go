package ca

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/store"
)

// TestRetryAfterConfig: RetryAfterAuthz is sent while a pending
// authorization's challenge is being validated, RetryAfterOrder while an
// order is processing; 0 sends neither (Pebble's retryAfter).
func TestRetryAfterConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		order, authz time.Duration
		wantO, wantA string
	}{
		{"pebble sample", 5 * time.Second, 3 * time.Second, "5", "3"},
		{"rounded up", 1500 * time.Millisecond, time.Second, "2", "1"},
		{"none", 0, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			validating, issuing := make(chan struct{}), make(chan struct{})
			releaseV, releaseI := sync.OnceFunc(func() { close(validating) }), sync.OnceFunc(func() { close(issuing) })
			t.Cleanup(releaseV)
			t.Cleanup(releaseI)
			e := newEnv(t, envConfig{
				cfg: func(c *Config) { c.RetryAfterOrder, c.RetryAfterAuthz = tc.order, tc.authz },
				validator: validatorFunc(func(context.Context, challengeval.Request) error {
					<-validating
					return nil
				}),
				wrapStore: func(s store.Store) store.Store {
					return &hookStore{Store: s, addCertificate: func() { <-issuing }}
				},
			})
			acct := e.newAccount()
			o, orderURL := acct.newOrder("retry.test")
			authzURL := o.Authorizations[0]
			if ra := e.get(authzURL).header.Get("Retry-After"); ra != "" {
				t.Errorf("pending authorization before validation: Retry-After %q", ra)
			}
			a := e.getAuthz(authzURL)
			wantStatus(t, acct.post(a.Challenges[0].URL, struct{}{}), http.StatusOK)
			if ra := e.get(authzURL).header.Get("Retry-After"); ra != tc.wantA {
				t.Errorf("authorization being validated: Retry-After %q, want %q", ra, tc.wantA)
			}
			releaseV()
			e.waitAuthz(authzURL)
			if ra := e.get(authzURL).header.Get("Retry-After"); ra != "" {
				t.Errorf("valid authorization: Retry-After %q", ra)
			}
			r := acct.finalize(o, makeCSR(t, newKey(t), "retry.test"))
			wantStatus(t, r, http.StatusOK)
			if ra := r.header.Get("Retry-After"); ra != tc.wantO {
				t.Errorf("finalize: Retry-After %q, want %q", ra, tc.wantO)
			}
			if ra := e.get(orderURL).header.Get("Retry-After"); ra != tc.wantO {
				t.Errorf("processing order: Retry-After %q, want %q", ra, tc.wantO)
			}
			releaseI()
			e.waitOrder(orderURL)
		})
	}
}
