package ca

import (
	"context"
	"errors"
	"fmt"
	"github.com/fakeca/fakeca/ca/policy"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
)

func TestAuthzShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	o, _ := acct.newOrder("plain.test", "*.wild.test")
	tests := []struct {
		url        string
		ident      string
		wildcard   bool
		challenges string
	}{
		// Authorizations follow the sorted identifiers: "*.wild.test" first.
		{o.Authorizations[1], "plain.test", false, "http-01,dns-01,tls-alpn-01"},
		{o.Authorizations[0], "wild.test", true, "dns-01"},
	}
	for _, tc := range tests {
		t.Run(tc.ident, func(t *testing.T) {
			r := e.get(tc.url)
			wantStatus(t, r, http.StatusOK)
			if ra := r.header.Get("Retry-After"); ra != "" {
				t.Errorf("authorization carries Retry-After %q", ra)
			}
			var a authzJSON
			r.decode(t, &a)
			if a.Identifier != (acme.Identifier{Type: acme.TypeDNS, Value: tc.ident}) || a.Wildcard != tc.wildcard ||
				a.Status != acme.StatusPending || !a.Expires.Equal(testStart.Add(7*24*time.Hour)) {
				t.Errorf("authorization = %+v", a)
			}
			if got := challengeTypes(a); got != tc.challenges {
				t.Errorf("challenges = %s, want %s", got, tc.challenges)
			}
			prefix := fmt.Sprintf("%s%d/%d/", e.url(pathChallenge), acct.id(), lastID(t, tc.url))
			for _, c := range a.Challenges {
				if len(c.URL) != len(prefix)+6 || c.URL[:len(prefix)] != prefix {
					t.Errorf("challenge URL %q, want %s + 6 characters", c.URL, prefix)
				}
				if c.Status != acme.StatusPending || len(c.Token) != 43 || c.Token != a.Challenges[0].Token {
					t.Errorf("challenge %+v: want pending, one 43-character token per authorization", c)
				}
				cr := e.get(c.URL)
				wantStatus(t, cr, http.StatusOK)
				if got := cr.header.Values("Link"); !contains(got, link(tc.url, "up")) {
					t.Errorf("challenge Link = %q, want rel=up to the authorization", got)
				}
				if got := cr.header.Get("Location"); got != c.URL {
					t.Errorf("challenge Location = %q", got)
				}
			}
		})
	}
}

// recorder is a Validator that remembers its requests and answers with err.
type recorder struct {
	mu   sync.Mutex
	reqs []challengeval.Request
	err  error
}

func (v *recorder) Validate(_ context.Context, req challengeval.Request) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.reqs = append(v.reqs, req)
	return v.err
}

func (v *recorder) CheckCAA(context.Context, acme.Identifier, bool, string, string) error { return nil }

func (v *recorder) requests() []challengeval.Request {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]challengeval.Request(nil), v.reqs...)
}

func TestChallengeValidation(t *testing.T) {
	t.Parallel()
	val := &recorder{}
	e := newEnv(t, envConfig{validator: val})
	acct := e.newAccount()
	o, orderURL := acct.newOrder("valid.test")
	authzURL := o.Authorizations[0]
	chall := e.getAuthz(authzURL).Challenges[1] // dns-01
	e.clk.Step(time.Minute)
	r := acct.post(chall.URL, struct{}{})
	wantStatus(t, r, http.StatusOK)
	var c challengeJSON
	r.decode(t, &c)
	if c.Status != acme.StatusPending && c.Status != acme.StatusValid {
		t.Errorf("challenge answered %s; Boulder shows pending while validating", c.Status)
	}
	if got := r.header.Values("Link"); !contains(got, link(authzURL, "up")) {
		t.Errorf("Link = %q", got)
	}
	a := e.waitAuthz(authzURL)
	now := testStart.Add(time.Minute)
	if a.Status != acme.StatusValid || !a.Expires.Equal(now.Add(30*24*time.Hour)) {
		t.Errorf("authorization %s expiring %s, want valid for 30 days", a.Status, a.Expires)
	}
	if len(a.Challenges) != 1 || a.Challenges[0].Type != acme.ChallengeDNS01 || a.Challenges[0].Status != acme.StatusValid ||
		a.Challenges[0].Validated == nil || !a.Challenges[0].Validated.Equal(now) {
		t.Errorf("valid authorization lists %+v, want only the validated dns-01", a.Challenges)
	}
	want := challengeval.Request{Type: acme.ChallengeDNS01, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "valid.test"},
		Token: chall.Token, KeyAuthorization: chall.Token + "." + thumbprint(t, acct.key.Public()), AccountURI: acct.kid}
	if reqs := val.requests(); len(reqs) != 1 || reqs[0] != want {
		t.Errorf("validator got %+v, want one %+v", reqs, want)
	}
	if got := e.getOrder(orderURL).Status; got != acme.StatusReady {
		t.Errorf("order is %s, want ready", got)
	}
	// Answering again changes nothing and validates nothing.
	r = acct.post(chall.URL, struct{}{})
	wantStatus(t, r, http.StatusOK)
	r.decode(t, &c)
	if c.Status != acme.StatusValid || len(val.requests()) != 1 {
		t.Errorf("second POST: challenge %s, %d validations", c.Status, len(val.requests()))
	}
	wantStatus(t, acct.post(chall.URL, nil), http.StatusOK)
}

func TestChallengeValidationFails(t *testing.T) {
	t.Parallel()
	const detail = "Invalid response from http://fail.test/.well-known/acme-challenge/x: 404"
	tests := []struct {
		name   string
		err    error
		typ    string
		status int
		detail string
	}{
		{"ACME error", acme.New(acme.Unauthorized, detail), "unauthorized", 403, detail},
		{"DNS problem", acme.New(acme.DNS, "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.fail.test"), "dns", 400,
			"DNS problem: NXDOMAIN looking up TXT for _acme-challenge.fail.test"},
		{"plain error", errors.New("resolver exploded"), "serverInternal", 500, "Problem processing request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{validator: failWith(tc.err)})
			acct := e.newAccount()
			o, orderURL := acct.newOrder("fail.test")
			authzURL := o.Authorizations[0]
			chall := e.getAuthz(authzURL).Challenges[0]
			wantStatus(t, acct.post(chall.URL, struct{}{}), http.StatusOK)
			a := e.waitAuthz(authzURL)
			if a.Status != acme.StatusInvalid {
				t.Fatalf("authorization %s, want invalid", a.Status)
			}
			for _, c := range a.Challenges {
				if c.Status != acme.StatusInvalid {
					t.Errorf("challenge %s of an invalid authorization is %s", c.Type, c.Status)
				}
			}
			var c challengeJSON
			e.getJSON(chall.URL, &c)
			want := problemJSON{Type: "urn:ietf:params:acme:error:" + tc.typ, Detail: tc.detail, Status: tc.status}
			if c.Status != acme.StatusInvalid || c.Error == nil || c.Error.Type != want.Type || c.Error.Detail != want.Detail ||
				c.Error.Status != want.Status {
				t.Errorf("challenge %s error %+v, want invalid with %+v", c.Status, c.Error, want)
			}
			if got := e.getOrder(orderURL); got.Status != acme.StatusInvalid || got.Error != nil {
				t.Errorf("order %s error %+v: want invalid without an order error", got.Status, got.Error)
			}
			wantProblem(t, acct.post(chall.URL, struct{}{}), "malformed", 400,
				"Unable to update challenge :: authorization must be pending")
		})
	}
}

func TestChallengePayload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	o, _ := acct.newOrder("payload.test")
	chall := e.getAuthz(o.Authorizations[0]).Challenges[0]
	for _, p := range []string{"[", "[]", `"x"`} {
		wantProblem(t, acct.post(chall.URL, p), "malformed", 400, "Unable to unmarshal challenge request body")
	}
	if got := e.getAuthz(o.Authorizations[0]).Challenges[0].Status; got != acme.StatusPending {
		t.Errorf("challenge is %s after bad POSTs", got)
	}
	// Any JSON object starts the validation; its content is ignored.
	wantStatus(t, acct.post(chall.URL, map[string]any{"keyAuthorization": "ignored"}), http.StatusOK)
	if a := e.waitAuthz(o.Authorizations[0]); a.Status != acme.StatusValid {
		t.Errorf("authorization %s", a.Status)
	}
}

func TestAuthzDeactivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	tests := []struct {
		name     string
		validate bool
	}{
		{"pending", false},
		{"valid", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name + ".deact.test"
			o, orderURL := acct.newOrder(name)
			if tc.validate {
				acct.authorize(o)
			}
			u := o.Authorizations[0]
			wantProblem(t, acct.post(u, map[string]any{"status": "valid"}), "malformed", 400, "Invalid status value")
			wantProblem(t, acct.post(u, "{"), "malformed", 400, "Unable to unmarshal authorization request body")
			r := acct.post(u, map[string]any{"status": "deactivated"})
			wantStatus(t, r, http.StatusOK)
			var a authzJSON
			r.decode(t, &a)
			if a.Status != acme.StatusDeactivated || e.getAuthz(u).Status != acme.StatusDeactivated {
				t.Errorf("authorization %s after deactivation", a.Status)
			}
			if got := e.getOrder(orderURL).Status; got != acme.StatusInvalid {
				t.Errorf("order is %s, want invalid", got)
			}
			wantProblem(t, acct.post(u, map[string]any{"status": "deactivated"}), "malformed", 400,
				"Unable to deactivate authorization :: only valid and pending authorizations can be deactivated")
			if o2, _ := acct.newOrder(name); contains(o2.Authorizations, u) {
				t.Error("a deactivated authorization was reused")
			}
		})
	}
}

// TestOtherAccountsResources: resources are looked up by the account in the
// URL and refused to other requesters with Boulder's texts.
func TestOtherAccountsResources(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	owner, other := e.newAccount(), e.newAccount()
	o, orderURL := owner.newOrder("mine.test")
	authzURL := o.Authorizations[0]
	chall := e.getAuthz(authzURL).Challenges[0].URL
	ownerID, otherID := owner.id(), other.id()
	orderID, authzID := lastID(t, orderURL), lastID(t, authzURL)
	const (
		orderNotOwner = "User account ID doesn't match account ID in order"
		authzNotOwner = "User account ID doesn't match account ID in authorization"
	)
	tests := []struct {
		name   string
		send   func() *response
		typ    string
		status int
		detail string
	}{
		{"POST-as-GET another's order", func() *response { return other.post(orderURL, nil) }, "unauthorized", 403, orderNotOwner},
		{"finalize another's order", func() *response { return other.finalize(o, makeCSR(t, newKey(t), "mine.test")) },
			"unauthorized", 403, orderNotOwner},
		{"order under the wrong account, POST", func() *response {
			return other.post(fmt.Sprintf("%s%d/%d", e.url(pathOrder), otherID, orderID), nil)
		}, "malformed", 404, fmt.Sprintf("No order found for account ID %d", otherID)},
		{"order under the wrong account, GET", func() *response {
			return e.get(fmt.Sprintf("%s%d/%d", e.url(pathOrder), otherID, orderID))
		}, "malformed", 404, fmt.Sprintf("No order found for account ID %d", otherID)},
		{"unknown order", func() *response { return e.get(fmt.Sprintf("%s%d/999999", e.url(pathOrder), ownerID)) },
			"malformed", 404, "No order for ID 999999"},
		{"POST-as-GET another's authorization", func() *response { return other.post(authzURL, nil) }, "unauthorized", 403, authzNotOwner},
		{"deactivate another's authorization", func() *response {
			return other.post(authzURL, map[string]any{"status": "deactivated"})
		}, "unauthorized", 403, authzNotOwner},
		{"authorization under the wrong account", func() *response {
			return e.get(fmt.Sprintf("%s%d/%d", e.url(pathAuthz), otherID, authzID))
		}, "malformed", 404, "No such authorization"},
		{"unknown authorization", func() *response { return e.get(fmt.Sprintf("%s%d/999999", e.url(pathAuthz), ownerID)) },
			"malformed", 404, "No such authorization"},
		{"answer another's challenge", func() *response { return other.post(chall, struct{}{}) }, "unauthorized", 403, authzNotOwner},
		{"unknown challenge", func() *response { return e.get(fmt.Sprintf("%s%d/%d/AAAAAA", e.url(pathChallenge), ownerID, authzID)) },
			"malformed", 404, "No such challenge"},
		{"challenge under the wrong account", func() *response {
			return e.get(fmt.Sprintf("%s%d/%d/%s", e.url(pathChallenge), otherID, authzID, chall[len(chall)-6:]))
		}, "malformed", 404, "No such authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.send(), tc.typ, tc.status, tc.detail)
		})
	}
	a := e.getAuthz(authzURL)
	if a.Status != acme.StatusPending || a.Challenges[0].Status != acme.StatusPending {
		t.Errorf("another account changed the authorization: %+v", a)
	}
}

// TestUnauthenticatedGET: Boulder still serves GET for orders,
// authorizations and challenges; GET responses carry no nonce.
func TestUnauthenticatedGET(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	o, orderURL := e.newAccount().newOrder("get.test")
	a := e.getAuthz(o.Authorizations[0])
	for _, u := range []string{orderURL, o.Authorizations[0], a.Challenges[0].URL} {
		r := e.get(u)
		wantStatus(t, r, http.StatusOK)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", u, ct)
		}
		if n := r.header.Get("Replay-Nonce"); n != "" {
			t.Errorf("%s: GET carries Replay-Nonce", u)
		}
	}
	if got := e.get(orderURL).header.Get("Location"); got != orderURL {
		t.Errorf("order Location = %q", got)
	}
}

// TestDraftChallenges: dns-account-01 and dns-persist-01 are offered only
// when enabled, after the RFC 8555 types and in a fixed order; the
// persist challenge names the account and issuer domains instead of a
// token, and an authorization it solved is never reused.
func TestDraftChallenges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) {
		c.Challenges = policy.Options{DNSAccount01: true, DNSPersist01: true}
	}})
	acct := e.newAccount()
	o, _ := acct.newOrder("draft.test", "*.draft.test")
	var persist challengeJSON
	var up string
	for _, u := range o.Authorizations {
		a := e.getAuthz(u)
		var types []string
		for _, c := range a.Challenges {
			types = append(types, c.Type)
			if c.Type == acme.ChallengeDNSPersist01 && !a.Wildcard {
				persist, up = c, u
			}
		}
		want := "http-01,dns-01,tls-alpn-01,dns-account-01,dns-persist-01"
		if a.Wildcard {
			want = "dns-01,dns-account-01,dns-persist-01"
		}
		if got := strings.Join(types, ","); got != want {
			t.Errorf("%s (wildcard %v) offers %s, want %s", a.Identifier.Value, a.Wildcard, got, want)
		}
	}
	if persist.Token != "" || persist.AccountURI != acct.kid || strings.Join(persist.IssuerDomainNames, ",") != "letsencrypt.org" {
		t.Errorf("dns-persist-01 rendered %+v", persist)
	}
	wantStatus(t, acct.post(persist.URL, []byte("{}")), http.StatusOK)
	e.waitAuthz(up)
	o2, _ := acct.newOrder("draft.test")
	if o2.Authorizations[0] == up {
		t.Error("an authorization solved by dns-persist-01 was reused")
	}
}
