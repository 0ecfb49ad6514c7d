package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/store"
)

// testStart is where every test's fake clock starts.
var testStart = time.Date(2026, 7, 20, 12, 0, 0, 0, time.UTC)

// pkiDirs hold two hierarchies generated once per test binary (key
// generation is the slow part); each test loads its own copy on its own
// fake clock. "other" is a foreign CA for "unknown issuer" cases.
var pkiDirs struct{ main, other string }

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := os.MkdirTemp("", "fakeca-ca-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	pkiDirs.main, pkiDirs.other = filepath.Join(root, "main"), filepath.Join(root, "other")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, dir := range []string{pkiDirs.main, pkiDirs.other} {
		wg.Go(func() {
			_, errs[i] = pki.New(pki.Config{Dir: dir}, pki.Deps{Clock: clocktesting.NewFakeClock(testStart)})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "generating test hierarchy:", err)
			return 1
		}
	}
	return m.Run()
}

// loadPKI loads a pre-generated hierarchy on clk.
func loadPKI(t testing.TB, dir string, clk *clocktesting.FakeClock) *pki.Hierarchy {
	t.Helper()
	h, err := pki.New(pki.Config{Dir: dir, CRLBaseURL: testPublicURL + "/crl/", OCSPBaseURL: testPublicURL + "/ocsp"},
		pki.Deps{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testPublicURL is the public-listener base named in test certificates.
const testPublicURL = "http://public.fakeca.test"

// validatorFunc adapts a function to Validator.
type validatorFunc func(ctx context.Context, req challengeval.Request) error

func (f validatorFunc) Validate(ctx context.Context, req challengeval.Request) error {
	return f(ctx, req)
}

// CheckCAA finds no CAA records: tests of the recheck use caaValidator.
func (f validatorFunc) CheckCAA(context.Context, acme.Identifier, bool, string, string) error {
	return nil
}

var _ Validator = validatorFunc(nil)

// caaValidator validates every challenge and fails CAA rechecks for the
// names in forbid.
type caaValidator struct{ forbid map[string]bool }

func (caaValidator) Validate(context.Context, challengeval.Request) error { return nil }

func (v caaValidator) CheckCAA(_ context.Context, id acme.Identifier, _ bool, _, _ string) error {
	if v.forbid[id.Value] {
		return acme.New(acme.CAA, "While processing CAA for %s: CAA record for %s prevents issuance", id.Value, id.Value)
	}
	return nil
}

// alwaysValid is a Validator that accepts every challenge.
func alwaysValid() Validator {
	return validatorFunc(func(context.Context, challengeval.Request) error { return nil })
}

// failWith is a Validator that refuses every challenge with err (an
// *acme.Error, or any error to exercise the serverInternal path).
func failWith(err error) Validator {
	return validatorFunc(func(context.Context, challengeval.Request) error { return err })
}

// envConfig tweaks a test server; the zero value is DefaultConfig with an
// always-valid validator and a memory store.
type envConfig struct {
	cfg       func(*Config)
	validator Validator
	wrapStore func(store.Store) store.Store
	journal   Journal
}

// env is one running server under test.
type env struct {
	t     testing.TB
	srv   *Server
	clk   *clocktesting.FakeClock
	store store.Store
	pki   *pki.Hierarchy
	hc    *http.Client
	base  string // https://127.0.0.1:port
}

func newEnv(t testing.TB, ec envConfig) *env {
	t.Helper()
	clk := clocktesting.NewFakeClock(testStart)
	cfg := DefaultConfig()
	cfg.ValidationWorkers = 4
	if ec.cfg != nil {
		ec.cfg(&cfg)
	}
	var st store.Store = store.NewMemory()
	if ec.wrapStore != nil {
		st = ec.wrapStore(st)
	}
	val := ec.validator
	if val == nil {
		val = alwaysValid()
	}
	h := loadPKI(t, pkiDirs.main, clk)
	srv, err := New(cfg, Deps{Clock: clk, Store: st, PKI: h, Validator: val, Journal: ec.journal})
	if err != nil {
		t.Fatal(err)
	}
	ts := serveTest(t, srv)
	// Keep connections for concurrent clients: TLS handshakes dominate
	// otherwise (the default keeps 2 idle connections per host).
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	return &env{t: t, srv: srv, clk: clk, store: st, pki: h, hc: &http.Client{Transport: tr}, base: ts.URL}
}

func (e *env) url(path string) string { return e.base + path }

// with returns a view of e that reports to t, for use in subtests and their
// goroutines (a test may only be failed from its own goroutine).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// do sends one raw request.
func (e *env) do(method, url, contentType string, body []byte) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(url string) *response { return e.do(http.MethodGet, url, "", nil) }

// nonce fetches a fresh nonce with HEAD new-nonce.
func (e *env) nonce() string {
	e.t.Helper()
	r := e.do(http.MethodHead, e.url(pathNewNonce), "", nil)
	n := r.header.Get("Replay-Nonce")
	if n == "" {
		e.t.Fatal("new-nonce gave no Replay-Nonce")
	}
	return n
}

// newKey returns a fresh P-256 key (fast enough to make one per use).
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	return genKey(t, elliptic.P256())
}

func genKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testRSAKey is one RSA-2048 key shared by the tests that need RSA.
var testRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := testRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// client is an ACME account holder: it signs with key and identifies by
// kid (the account URL) once registered, by an embedded JWK before. Like a
// real client it reuses the nonce of each response. Not safe for concurrent
// use: give each goroutine its own.
type client struct {
	e     *env
	key   crypto.Signer
	kid   string
	nonce string // from the last response, used by the next request
}

func (e *env) client(key crypto.Signer) *client { return &client{e: e, key: key} }

// newAccount registers a fresh P-256 account that agreed to the terms.
func (e *env) newAccount() *client {
	e.t.Helper()
	c := e.client(newKey(e.t))
	c.register()
	return c
}

func (c *client) register() {
	c.e.t.Helper()
	r := c.postJWK(c.e.url(pathNewAccount), map[string]any{"termsOfServiceAgreed": true})
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		c.e.t.Fatalf("new-account: %d %s", r.status, r.body)
	}
	c.kid = r.header.Get("Location")
}

// id is the account's numeric ID.
func (c *client) id() int64 {
	var id int64
	if _, err := fmt.Sscanf(c.kid, c.e.url(pathAccount)+"%d", &id); err != nil {
		c.e.t.Fatalf("account URL %q: %v", c.kid, err)
	}
	return id
}

// rawReq is one JWS request being built; mods change it before it is sent.
type rawReq struct {
	header      map[string]any
	payload     []byte
	key         any // crypto.Signer, or []byte for HMAC
	contentType string
	body        func([]byte) []byte // rewrites the serialized body
}

type mod func(*rawReq)

func withHeader(k string, v any) mod { return func(r *rawReq) { r.header[k] = v } }
func withoutHeader(k string) mod     { return func(r *rawReq) { delete(r.header, k) } }
func signedBy(key any) mod           { return func(r *rawReq) { r.key = key } }
func withContentType(ct string) mod  { return func(r *rawReq) { r.contentType = ct } }
func rewriteBody(f func([]byte) []byte) mod {
	return func(r *rawReq) { r.body = f }
}

// post sends payload (nil: POST-as-GET; []byte or string: raw; else JSON)
// to url, signed with the account's kid.
func (c *client) post(url string, payload any, mods ...mod) *response {
	c.e.t.Helper()
	if c.kid == "" {
		c.e.t.Fatal("post before register")
	}
	return c.send(url, payload, append([]mod{withHeader("kid", c.kid)}, mods...)...)
}

// postJWK is post with the public key embedded instead of a kid.
func (c *client) postJWK(url string, payload any, mods ...mod) *response {
	c.e.t.Helper()
	return c.send(url, payload, append([]mod{withHeader("jwk", jwkOf(c.e.t, c.key.Public()))}, mods...)...)
}

func (c *client) send(url string, payload any, mods ...mod) *response {
	c.e.t.Helper()
	nonce := c.nonce
	if nonce == "" {
		nonce = c.e.nonce()
	}
	r := &rawReq{header: map[string]any{"nonce": nonce, "url": url},
		payload: encodePayload(c.e.t, payload), key: c.key, contentType: contentTypeJOSE}
	for _, m := range mods {
		m(r)
	}
	if _, ok := r.header["alg"]; !ok {
		r.header["alg"] = algFor(r.key)
	}
	body := signJWS(c.e.t, r.key, r.header, r.payload)
	if r.body != nil {
		body = r.body(body)
	}
	res := c.e.do(http.MethodPost, url, r.contentType, body)
	c.nonce = res.header.Get("Replay-Nonce")
	return res
}

func encodePayload(t testing.TB, payload any) []byte {
	t.Helper()
	switch p := payload.(type) {
	case nil:
		return nil
	case []byte:
		return p
	case string:
		return []byte(p)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getJSON is an unauthenticated GET that must succeed; it decodes into v.
func (e *env) getJSON(url string, v any) *response {
	e.t.Helper()
	r := e.get(url)
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", url, r.status, r.body)
	}
	r.decode(e.t, v)
	return r
}

// wantProblem checks that r is exactly the problem document typ (short
// name, e.g. "malformed"), status and detail.
func wantProblem(t testing.TB, r *response, typ string, status int, detail string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if r.status != status {
		t.Errorf("HTTP status = %d, want %d", r.status, status)
	}
	var p problemJSON
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	want := problemJSON{Type: "urn:ietf:params:acme:error:" + typ, Detail: detail, Status: status}
	if p.Type != want.Type || p.Detail != want.Detail || p.Status != want.Status {
		t.Errorf("problem = {%s %q %d}\nwant      {%s %q %d}", p.Type, p.Detail, p.Status, want.Type, want.Detail, want.Status)
	}
}

// wantStatus fails the test unless r has the HTTP status.
func wantStatus(t testing.TB, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("HTTP status = %d, want %d; body %s", r.status, status, r.body)
	}
}

// waitFor polls until done reports true; validation and issuance run on the
// server's workers, so their results appear asynchronously.
func waitFor(t testing.TB, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: CI runs packages in parallel on 2 cores
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hookStore wraps a store to inject behaviour (a panic, a pause) into one
// method; nil hooks delegate unchanged.
type hookStore struct {
	store.Store
	getOrder       func(id int64)
	addCertificate func()
}

var _ store.Store = (*hookStore)(nil)

func (h *hookStore) GetOrder(ctx context.Context, id int64) (store.Order, error) {
	if h.getOrder != nil {
		h.getOrder(id)
	}
	return h.Store.GetOrder(ctx, id)
}

func (h *hookStore) AddCertificate(ctx context.Context, c store.Certificate) error {
	if h.addCertificate != nil {
		h.addCertificate()
	}
	return h.Store.AddCertificate(ctx, c)
}

// serveTest runs srv's workers and serves its ACME handler over TLS until
// the test ends.
func serveTest(t testing.TB, srv *Server) *httptest.Server {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
	})
	return ts
}
