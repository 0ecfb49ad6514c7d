package ca

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// lastID is the number at the end of a resource URL.
func lastID(t testing.TB, url string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(url[strings.LastIndexByte(url, '/')+1:], 10, 64)
	if err != nil {
		t.Fatalf("no ID at the end of %q", url)
	}
	return id
}

func TestNewOrderShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	r := acct.newOrderRaw(map[string]any{"identifiers": dnsIDs("B.test", "a.test", "b.test", "A.TEST")})
	wantStatus(t, r, http.StatusCreated)
	loc := r.header.Get("Location")
	id := lastID(t, loc)
	if want := fmt.Sprintf("%s%d/%d", e.url(pathOrder), acct.id(), id); loc != want {
		t.Errorf("Location = %q, want %q", loc, want)
	}
	var raw map[string]json.RawMessage
	r.decode(t, &raw)
	for _, absent := range []string{"profile", "replaces", "certificate", "error", "notBefore", "notAfter"} {
		if _, ok := raw[absent]; ok {
			t.Errorf("order has %q: %s", absent, r.body)
		}
	}
	var o orderJSON
	r.decode(t, &o)
	if got := identValues(o.Identifiers); strings.Join(got, ",") != "a.test,b.test" {
		t.Errorf("identifiers = %v, want lower-cased, deduplicated, sorted", got)
	}
	if o.Status != acme.StatusPending || !o.Expires.Equal(testStart.Add(7*24*time.Hour)) {
		t.Errorf("status %s expires %s", o.Status, o.Expires)
	}
	if want := fmt.Sprintf("%s%d/%d", e.url(pathFinalize), acct.id(), id); o.Finalize != want {
		t.Errorf("finalize = %q, want %q", o.Finalize, want)
	}
	if len(o.Authorizations) != 2 {
		t.Fatalf("authorizations = %v", o.Authorizations)
	}
	for i, u := range o.Authorizations {
		if !strings.HasPrefix(u, fmt.Sprintf("%s%d/", e.url(pathAuthz), acct.id())) {
			t.Errorf("authorization URL %q", u)
		}
		if a := e.getAuthz(u); a.Identifier != o.Identifiers[i] {
			t.Errorf("authorization %d is for %v, want %v", i, a.Identifier, o.Identifiers[i])
		}
	}
}

// TestNewOrderProfiles: expiry is min(order lifetime, new authz lifetime)
// (reference §8) and the profile is echoed only when requested.
func TestNewOrderProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	tests := []struct {
		profile    string
		ident      acme.Identifier
		expires    time.Duration
		challenges string
	}{
		{"", acme.Identifier{Type: acme.TypeDNS, Value: "default.test"}, 7 * 24 * time.Hour, "http-01,dns-01,tls-alpn-01"},
		{"classic", acme.Identifier{Type: acme.TypeDNS, Value: "classic.test"}, 7 * 24 * time.Hour, "http-01,dns-01,tls-alpn-01"},
		{"tlsserver", acme.Identifier{Type: acme.TypeDNS, Value: "tls.test"}, time.Hour, "http-01,dns-01,tls-alpn-01"},
		{"shortlived", acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"}, time.Hour, "http-01,tls-alpn-01"},
		{"shortlived", acme.Identifier{Type: acme.TypeIP, Value: "::1"}, time.Hour, "http-01,tls-alpn-01"},
	}
	for _, tc := range tests {
		t.Run(tc.profile+" "+tc.ident.Value, func(t *testing.T) {
			o, _ := acct.newOrderWith(map[string]any{"identifiers": []acme.Identifier{tc.ident}, "profile": tc.profile})
			if o.Profile != tc.profile {
				t.Errorf("profile = %q, want %q", o.Profile, tc.profile)
			}
			if !o.Expires.Equal(testStart.Add(tc.expires)) {
				t.Errorf("expires = %s, want now + %s", o.Expires, tc.expires)
			}
			a := e.getAuthz(o.Authorizations[0])
			if !a.Expires.Equal(testStart.Add(tc.expires)) {
				t.Errorf("authz expires = %s", a.Expires)
			}
			if got := challengeTypes(a); got != tc.challenges {
				t.Errorf("challenges = %s, want %s", got, tc.challenges)
			}
		})
	}
}

func challengeTypes(a authzJSON) string {
	var out []string
	for _, c := range a.Challenges {
		out = append(out, c.Type)
	}
	return strings.Join(out, ",")
}

func TestNewOrderRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.Policy.Blocklist = []string{"blocked.test"} }})
	acct := e.newAccount()
	names := func(n int) []acme.Identifier {
		ids := make([]acme.Identifier, n)
		for i := range ids {
			ids[i] = acme.Identifier{Type: acme.TypeDNS, Value: fmt.Sprintf("n%d.test", i)}
		}
		return ids
	}
	ip := []acme.Identifier{{Type: acme.TypeIP, Value: "127.0.0.1"}}
	const seeProfiles = " See available profiles at https://letsencrypt.org/docs/profiles/."
	tests := []struct {
		name    string
		payload any
		typ     string
		detail  string
	}{
		{name: "no identifiers", payload: map[string]any{}, typ: "malformed", detail: "NewOrder request did not specify any identifiers"},
		{name: "empty identifiers", payload: map[string]any{"identifiers": []any{}}, typ: "malformed",
			detail: "NewOrder request did not specify any identifiers"},
		{name: "not JSON", payload: "{", typ: "malformed", detail: "Unable to unmarshal NewOrder request body"},
		{name: "notBefore", payload: map[string]any{"identifiers": dnsIDs("a.test"), "notBefore": "2026-07-21T00:00:00Z"},
			typ: "malformed", detail: "NotBefore and NotAfter are not supported"},
		{name: "notAfter", payload: map[string]any{"identifiers": dnsIDs("a.test"), "notAfter": "2026-07-21T00:00:00Z"},
			typ: "malformed", detail: "NotBefore and NotAfter are not supported"},
		{name: "unknown profile", payload: map[string]any{"identifiers": dnsIDs("a.test"), "profile": "foo"},
			typ: "invalidProfile", detail: `Error creating new order :: profile name "foo" not recognized`},
		{name: "IP under the default profile", payload: map[string]any{"identifiers": ip}, typ: "rejectedIdentifier",
			detail: "Error creating new order :: Default profile does not permit IP address identifiers." + seeProfiles},
		{name: "IP under tlsserver", payload: map[string]any{"identifiers": ip, "profile": "tlsserver"}, typ: "rejectedIdentifier",
			detail: `Error creating new order :: Profile "tlsserver" does not permit IP address identifiers.` + seeProfiles},
		{name: "too many names for classic", payload: map[string]any{"identifiers": names(101)}, typ: "malformed",
			detail: "Error creating new order :: Order cannot contain more than 100 identifiers"},
		{name: "too many names for tlsserver", payload: map[string]any{"identifiers": names(26), "profile": "tlsserver"},
			typ: "malformed", detail: "Error creating new order :: Order cannot contain more than 25 identifiers"},
		{name: "bad name", payload: map[string]any{"identifiers": dnsIDs("a..test")}, typ: "rejectedIdentifier",
			detail: `Invalid identifiers requested :: Cannot issue for "a..test": Domain name can not have two dots in a row`},
		{name: "unknown identifier type", payload: map[string]any{"identifiers": []acme.Identifier{{Type: "email", Value: "a@b.test"}}},
			typ: "unsupportedIdentifier", detail: `NewOrder request included unsupported identifier: type "email", value "a@b.test"`},
		{name: "empty identifier", payload: map[string]any{"identifiers": dnsIDs("a.test", "")}, typ: "malformed",
			detail: "NewOrder request included empty identifier"},
		{name: "redundant with a wildcard", payload: map[string]any{"identifiers": dnsIDs("*.w.test", "www.w.test")}, typ: "malformed",
			detail: `Error creating new order :: Domain name "www.w.test" is redundant with a wildcard domain in the same request. Remove one or the other from the certificate request.`},
		{name: "blocked name", payload: map[string]any{"identifiers": dnsIDs("blocked.test")}, typ: "rejectedIdentifier",
			detail: `Error creating new order :: Cannot issue for "blocked.test": The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, acct.newOrderRaw(tc.payload), tc.typ, 400, tc.detail)
		})
	}
}

func TestNewOrderSubproblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	r := e.newAccount().newOrderRaw(map[string]any{"identifiers": dnsIDs("c..test", "ok.test", "a..test")})
	const reason = "Domain name can not have two dots in a row"
	wantProblem(t, r, "rejectedIdentifier", 400, `Invalid identifiers requested :: Cannot issue for "a..test": `+reason+
		" (and 1 more problems. Refer to sub-problems for more information.)")
	var p problemJSON
	r.decode(t, &p)
	if len(p.Subproblems) != 2 {
		t.Fatalf("subproblems = %+v", p.Subproblems)
	}
	for i, want := range []string{"a..test", "c..test"} {
		sp := p.Subproblems[i]
		// Boulder's policy errors for one name are malformed (policy/pa.go).
		if sp.Type != acme.Malformed.URN() || sp.Status != 400 || sp.Identifier == nil || sp.Identifier.Value != want {
			t.Errorf("subproblem %d = %+v, want malformed 400 for %s", i, sp, want)
		}
	}
	t.Run("detail prefix", func(t *testing.T) {
		for _, sp := range p.Subproblems {
			if want := "Invalid identifiers requested :: " + reason; sp.Detail != want {
				t.Errorf("subproblem detail = %q, want %q", sp.Detail, want)
			}
		}
	})
}

// TestOrderValidityAllowed: with AllowOrderValidity the requested window
// is accepted, echoed and used for the certificate.
func TestOrderValidityAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.AllowOrderValidity = true }})
	acct := e.newAccount()
	nb, na := testStart, testStart.Add(48*time.Hour)
	o, u := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("window.test"),
		"notBefore": nb.Format(time.RFC3339), "notAfter": na.Format(time.RFC3339)})
	if o.NotBefore == nil || o.NotAfter == nil || !o.NotBefore.Equal(nb) || !o.NotAfter.Equal(na) {
		t.Fatalf("order window = %v – %v", o.NotBefore, o.NotAfter)
	}
	// A window never reuses an order.
	if _, u2 := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("window.test"),
		"notBefore": nb.Format(time.RFC3339), "notAfter": na.Format(time.RFC3339)}); u2 == u {
		t.Error("an order with a validity window was reused")
	}
	acct.authorize(o)
	wantStatus(t, acct.finalize(o, makeCSR(t, newKey(t), "window.test")), http.StatusOK)
	cert := e.fetchChain(e.waitOrder(u).Certificate)[0]
	if !cert.NotBefore.Equal(nb) || !cert.NotAfter.Equal(na) {
		t.Errorf("certificate window %s – %s, want %s – %s", cert.NotBefore, cert.NotAfter, nb, na)
	}
	wantProblem(t, acct.newOrderRaw(map[string]any{"identifiers": dnsIDs("window.test"), "notAfter": "tomorrow"}),
		"malformed", 400, "Invalid notAfter: must be an RFC 3339 timestamp")
}

func TestOrderReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct, other := e.newAccount(), e.newAccount()
	first, u := acct.newOrder("r1.test", "r2.test")
	tests := []struct {
		name   string
		by     *client
		body   map[string]any
		reused bool
	}{
		{"same request", acct, map[string]any{"identifiers": dnsIDs("r1.test", "r2.test")}, true},
		{"same names, other order and case", acct, map[string]any{"identifiers": dnsIDs("R2.test", "r1.test", "r2.test")}, true},
		{"explicit default profile", acct, map[string]any{"identifiers": dnsIDs("r1.test", "r2.test"), "profile": "classic"}, false},
		{"subset", acct, map[string]any{"identifiers": dnsIDs("r1.test")}, false},
		{"other account", other, map[string]any{"identifiers": dnsIDs("r1.test", "r2.test")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, got := tc.by.newOrderWith(tc.body)
			if (got == u) != tc.reused {
				t.Errorf("Location %q, first order %q: reused = %v, want %v", got, u, got == u, tc.reused)
			}
			if tc.reused && strings.Join(o.Authorizations, " ") != strings.Join(first.Authorizations, " ") {
				t.Errorf("reused order has other authorizations")
			}
		})
	}
	t.Run("ready order is reused, processing is not", func(t *testing.T) {
		acct.authorize(first)
		if _, got := acct.newOrder("r1.test", "r2.test"); got != u {
			t.Errorf("ready order not reused: %q", got)
		}
		wantStatus(t, acct.finalize(first, makeCSR(t, newKey(t), "r1.test", "r2.test")), http.StatusOK)
		o, got := acct.newOrder("r1.test", "r2.test")
		if got == u {
			t.Fatal("an order that began processing was reused")
		}
		// The authorizations are reused instead, so it is ready at once.
		if o.Status != acme.StatusReady || strings.Join(o.Authorizations, " ") != strings.Join(first.Authorizations, " ") {
			t.Errorf("new order %s with %v, want ready with the valid authorizations %v", o.Status, o.Authorizations, first.Authorizations)
		}
	})
}

// TestAuthzReuse: only valid authorizations of the same account, name and
// profile string with enough life left are reused (reference §8).
func TestAuthzReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	done := acct.issue("reuse.test")
	validAuthz := done.order.Authorizations[0]
	tests := []struct {
		name    string
		advance time.Duration
		body    map[string]any
		reused  bool
	}{
		{"same name", 0, map[string]any{"identifiers": dnsIDs("reuse.test")}, true},
		{"same name among others", 0, map[string]any{"identifiers": dnsIDs("reuse.test", "fresh.test")}, true},
		{"other profile string", 0, map[string]any{"identifiers": dnsIDs("reuse.test"), "profile": "classic"}, false},
		{"wildcard of the name", 0, map[string]any{"identifiers": dnsIDs("*.reuse.test")}, false},
		// Distinct extra names keep the previous case's order from being reused.
		{"21h of life left", 30*24*time.Hour - 21*time.Hour - time.Second, map[string]any{"identifiers": dnsIDs("reuse.test", "x1.test")}, true},
		{"less than 21h left", time.Second, map[string]any{"identifiers": dnsIDs("reuse.test", "x2.test")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clk.Step(tc.advance)
			o, _ := acct.newOrderWith(tc.body)
			if contains(o.Authorizations, validAuthz) != tc.reused {
				t.Errorf("authorizations %v; reuse of %s = %v, want %v", o.Authorizations, validAuthz, !tc.reused, tc.reused)
			}
			if tc.reused && len(o.Authorizations) == 1 && o.Status != acme.StatusReady {
				t.Errorf("order with a reused authorization is %s, want ready", o.Status)
			}
			if tc.reused && tc.advance > 0 && !o.Expires.Equal(e.getAuthz(validAuthz).Expires) {
				t.Errorf("order expires %s, after its reused authorization %s", o.Expires, e.getAuthz(validAuthz).Expires)
			}
		})
	}
}

func TestOrderExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	o, u := acct.newOrder("expire.test")
	authzURL := o.Authorizations[0]
	chall := e.getAuthz(authzURL).Challenges[0].URL

	e.clk.Step(7*24*time.Hour - time.Second)
	if got := e.getOrder(u).Status; got != acme.StatusPending {
		t.Fatalf("one second before expiry the order is %s", got)
	}
	e.clk.Step(time.Second)
	if got := e.getOrder(u).Status; got != acme.StatusInvalid {
		t.Errorf("expired order is %s, want invalid", got)
	}
	wantProblem(t, e.get(authzURL), "malformed", 404, "Expired authorization")
	wantProblem(t, acct.post(authzURL, nil), "malformed", 404, "Expired authorization")
	wantProblem(t, acct.post(chall, struct{}{}), "malformed", 404, "Expired authorization")
	wantProblem(t, acct.finalize(o, makeCSR(t, newKey(t), "expire.test")), "malformed", 404,
		fmt.Sprintf("Order %d is expired", lastID(t, u)))
	if _, u2 := acct.newOrder("expire.test"); u2 == u {
		t.Error("an expired order was reused")
	}
}

func TestValidOrderExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	got := e.newAccount().issue("valid-expire.test")
	e.clk.Step(7 * 24 * time.Hour)
	o := e.getOrder(got.orderURL)
	if o.Status != acme.StatusInvalid || o.Certificate != "" {
		t.Errorf("valid order past its expiry: status %s, certificate %q; want invalid without certificate", o.Status, o.Certificate)
	}
}
