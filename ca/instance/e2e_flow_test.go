package instance_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/ca/instance"
)

// e2eOps adapts a client with x/crypto/acme's API (x/crypto itself or
// cert-manager's fork) to the shared flow. Each field wraps one client call.
type e2eOps struct {
	// order creates an order; replaces is an ARI certID or "".
	order func(ctx context.Context, names []string, profile, replaces string) (e2eOrder, error)
	// authz fetches an authorization (POST-as-GET).
	authz func(ctx context.Context, url string) (e2eAuthz, error)
	// accept asks the CA to validate a challenge.
	accept func(ctx context.Context, chalURL string) error
	// keyAuth is the http-01 body or dns-01 TXT value for a token.
	keyAuth func(chalType, token string) (string, error)
	// finalize submits a CSR and returns the DER leaf followed by the chain.
	finalize func(ctx context.Context, finalizeURL string, csr []byte) ([][]byte, error)
	// revoke revokes with key, or with the account key when key is nil.
	revoke func(ctx context.Context, key crypto.Signer, der []byte) error
}

type e2eOrder struct {
	uri, finalize string
	authzs        []string
}

type e2eAuthz struct {
	status, identifier string
	problem            error                   // the challenges' errors, joined
	challenges         map[string]e2eChallenge // by type
}

type e2eChallenge struct{ url, token string }

// e2eIssued is the outcome of one order.
type e2eIssued struct {
	order e2eOrder
	key   crypto.Signer
	der   [][]byte // leaf, then chain
}

// e2eRunACMECases runs the scenario table plus extra subtests for a client
// with x/crypto/acme's API; newOps registers a fresh account at a CA.
func e2eRunACMECases(t *testing.T, env *e2eEnv, client string, byKey bool,
	newOps func(*testing.T, *instance.Instance) e2eOps, extra ...e2eSubtest) {
	ops := map[*instance.Instance]e2eOps{env.ca: newOps(t, env.ca), env.always: newOps(t, env.always)}
	subs := extra
	for _, c := range e2eCases(client, byKey) {
		subs = append(subs, e2eSubtest{c.name, func(t *testing.T) { e2eRunACMECase(t, env, ops[env.caFor(c)], c) }})
	}
	e2eRunConcurrently(t, subs)
}

// e2eRunACMECase issues a certificate for c, checks it and the order, then
// revokes it twice.
func e2eRunACMECase(t *testing.T, env *e2eEnv, ops e2eOps, c e2eCase) {
	ctx := e2eContext(t)
	inst := env.caFor(c)
	got := e2eIssue(ctx, t, env, ops, c, "")
	if c.challenge == e2eDNS01 && !c.always && len(c.names) > 1 && env.dns.tcpMulti.Load() == 0 {
		t.Error("two TXT records were validated, but the CA never retried the truncated answer over TCP")
	}
	e2eCheckIssued(t, inst, c, got.der)
	e2eCheckOrder(ctx, t, inst, got.order.uri, c.profile, "")
	var key crypto.Signer // the account's
	if c.byKey {
		key = got.key
	}
	e2eCheckRevokedTwice(t, c.byKey, ops.revoke(ctx, key, got.der[0]), ops.revoke(ctx, key, got.der[0]))
	if c.byKey {
		e2eCheckKeyBlocked(ctx, t, ops, c, got.key)
	}
}

// e2eCheckKeyBlocked wants a CSR with a key revoked for keyCompromise to be
// refused (reference §5.3). The authorizations are reused, so the new order
// is ready at once.
func e2eCheckKeyBlocked(ctx context.Context, t *testing.T, ops e2eOps, c e2eCase, key crypto.Signer) {
	t.Helper()
	o, err := ops.order(ctx, c.names, c.profile, "")
	if err != nil {
		t.Fatalf("new-order %v: %v", c.names, err)
	}
	_, err = ops.finalize(ctx, o.finalize, e2eCSR(t, key, c.names))
	if got := e2eProblemType(err); got != e2eBadCSR || !strings.Contains(err.Error(), "public key is forbidden") {
		t.Errorf("finalize with the revoked key: %v (type %q), want %s \"public key is forbidden\"", err, got, e2eBadCSR)
	}
}

// e2eIssue runs one order: new-order; every pending authorization's
// c.challenge presented, then all accepted, then all polled (valid ones are
// reused as they are); finalize with a new key.
func e2eIssue(ctx context.Context, t *testing.T, env *e2eEnv, ops e2eOps, c e2eCase, replaces string) e2eIssued {
	t.Helper()
	o, err := ops.order(ctx, c.names, c.profile, replaces)
	if err != nil {
		t.Fatalf("new-order %v: %v", c.names, err)
	}
	if len(o.authzs) != len(c.names) {
		t.Fatalf("order has %d authorizations for %d names", len(o.authzs), len(c.names))
	}
	// Present everything before accepting anything, so that a wildcard and
	// its base name have two TXT records at once.
	pending := map[string]string{} // authz URL → challenge URL
	for _, u := range o.authzs {
		if chalURL, ok := e2ePresent(ctx, t, env, ops, c, u); ok {
			pending[u] = chalURL
		}
	}
	for _, chalURL := range pending {
		if err := ops.accept(ctx, chalURL); err != nil {
			t.Fatalf("accept %s: %v", chalURL, err)
		}
	}
	for u := range pending {
		e2ePollAuthz(ctx, t, ops, u)
	}
	key := e2eLeafKey(t, c.rsa)
	der, err := ops.finalize(ctx, o.finalize, e2eCSR(t, key, c.names))
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	return e2eIssued{order: o, key: key, der: der}
}

// e2ePresent publishes the key authorization of a pending authorization's
// c.challenge until the end of t and returns the challenge URL; ok is false
// for an authorization that is already valid.
func e2ePresent(ctx context.Context, t *testing.T, env *e2eEnv, ops e2eOps, c e2eCase, url string) (string, bool) {
	t.Helper()
	a, err := ops.authz(ctx, url)
	if err != nil {
		t.Fatalf("authorization %s: %v", url, err)
	}
	if a.status == "valid" {
		return "", false
	}
	ch, ok := a.challenges[c.challenge]
	if !ok {
		t.Fatalf("authorization for %s offers no %s challenge", a.identifier, c.challenge)
	}
	if !c.always {
		value, err := ops.keyAuth(c.challenge, ch.token)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(env.present(t, c.challenge, a.identifier, ch.token, value))
	}
	return ch.url, true
}

// e2ePollAuthz polls with a short backoff until the authorization is valid.
// (The clients' WaitAuthorization sleeps a whole second per round: Boulder
// sends no Retry-After on authorizations.)
func e2ePollAuthz(ctx context.Context, t *testing.T, ops e2eOps, url string) {
	t.Helper()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		a, err := ops.authz(ctx, url)
		if err != nil {
			t.Fatalf("polling %s: %v", url, err)
		}
		switch a.status {
		case "valid":
			return
		case "invalid":
			t.Fatalf("authorization for %s is invalid: %v", a.identifier, a.problem)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("authorization for %s still %s: %v", a.identifier, a.status, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// e2eIdentType is the ACME identifier type of a name: "ip" or "dns".
func e2eIdentType(name string) string {
	if net.ParseIP(name) != nil {
		return "ip"
	}
	return "dns"
}

func e2eLeafKey(t *testing.T, useRSA bool) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// e2eCSR makes a CSR without a subject, as ACME clients usually do.
func e2eCSR(t *testing.T, key crypto.Signer, names []string) []byte {
	t.Helper()
	var tmpl x509.CertificateRequest
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// e2eOrderView is the part of an order object the tests read directly.
type e2eOrderView struct {
	Status   string `json:"status"`
	Profile  string `json:"profile"`
	Replaces string `json:"replaces"`
}

// e2eCheckOrder fetches the order with a plain GET (allowed, as at Let's
// Encrypt) and checks it is valid and echoes profile and replaces.
func e2eCheckOrder(ctx context.Context, t *testing.T, inst *instance.Instance, orderURL, profile, replaces string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, orderURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(t, inst.BundlePEM()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var o e2eOrderView
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", orderURL, resp.Status, err)
	}
	want := e2eOrderView{Status: "valid", Profile: profile, Replaces: replaces}
	if o != want {
		t.Errorf("order %s = %+v, want %+v", orderURL, o, want)
	}
}

// e2eIdents builds a client's identifier list with its own constructor.
func e2eIdents[T any](names []string, mk func(typ, value string) T) []T {
	out := make([]T, len(names))
	for i, n := range names {
		out[i] = mk(e2eIdentType(n), n)
	}
	return out
}

// e2eTapKey marks a request context whose responses e2eTapTransport
// records.
type e2eTapKey struct{}

// e2eTap holds the problem type of the last response made with a context
// ("" for a success).
type e2eTap struct{ last string }

// e2eTapTransport records problem documents for e2eTapped. x/crypto/acme
// and cert-manager's fork report alreadyRevoked as success, so the tests
// read the wire to see the CA's answer.
type e2eTapTransport struct{ next http.RoundTripper }

func (tt e2eTapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tt.next.RoundTrip(req)
	tap, ok := req.Context().Value(e2eTapKey{}).(*e2eTap)
	if err != nil || !ok {
		return resp, err
	}
	tap.last = ""
	if resp.Header.Get("Content-Type") != "application/problem+json" {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("problem document: %w", err)
	}
	tap.last = p.Type
	return resp, nil
}

// e2eTapped runs fn with a recording context. If fn succeeds although the
// last response was a problem document, the problem is returned instead.
func e2eTapped(ctx context.Context, fn func(context.Context) error) error {
	tap := &e2eTap{}
	err := fn(context.WithValue(ctx, e2eTapKey{}, tap))
	if err == nil && tap.last != "" {
		return &e2eWireProblem{typ: tap.last}
	}
	return err
}

// e2eWireProblem is a problem the client did not report.
type e2eWireProblem struct{ typ string }

func (p *e2eWireProblem) Error() string {
	return "the client reported success but the CA answered " + p.typ
}

// e2eACMEClient is an HTTP client that trusts inst and can be tapped.
func e2eACMEClient(t *testing.T, inst *instance.Instance) *http.Client {
	c := httpClient(t, inst.BundlePEM())
	c.Transport = e2eTapTransport{next: c.Transport}
	return c
}
