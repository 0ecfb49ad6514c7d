package instance_test

// End-to-end fault injection: each action of a fault rule, added at run time
// with POST /faults on the management listener, observed the way a user of
// golang.org/x/crypto/acme sees it (and on the wire where the library hides
// it); its hits in GET /faults and its fault-fired events in GET /events;
// then DELETE /faults/{name} and the same names issue again.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
)

// fxRealZone is validated for real (and fails: its http-01 responder
// answers 404); every other name is always valid.
const fxRealZone = "*.real.fx.test"

// Problem types the fault tests expect.
const (
	fxServerInternal = "urn:ietf:params:acme:error:serverInternal"
	fxBadNonce       = "urn:ietf:params:acme:error:badNonce"
	fxRejected       = "urn:ietf:params:acme:error:rejectedIdentifier"
	fxUnauthorized   = "urn:ietf:params:acme:error:unauthorized"
	fxDNS            = "urn:ietf:params:acme:error:dns"
	fxConnection     = "urn:ietf:params:acme:error:connection"
)

// fxEnv is one CA shared by the fault tests, which run one at a time:
// some rules apply to every request of an operation.
type fxEnv struct {
	inst *instance.Instance
	mgmc *http.Client
	ld   *ldDriver // fresh accounts that issue quickly, for the checks after a rule is gone
}

func newFXEnv(t *testing.T) *fxEnv {
	t.Helper()
	web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(web.Close)
	override, err := challengeval.ParseHostOverride(fxRealZone + "=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	inst := ldStartInstance(t, ldAlwaysValid, web.Listener.Addr().(*net.TCPAddr).Port, func(cfg *instance.Config) {
		cfg.Validation.Rules = []challengeval.Rule{{Pattern: fxRealZone, AlwaysValid: &no}}
		cfg.Validation.HostOverrides = append(cfg.Validation.HostOverrides, override)
	})
	return &fxEnv{inst: inst, mgmc: httpClient(t, inst.BundlePEM()),
		ld: newLDDriver(t, inst.DirectoryURL(), &tls.Config{RootCAs: ldPool(t, inst.BundlePEM())}, nil)}
}

// do calls the management listener with an optional JSON body.
func (e *fxEnv) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "https://"+e.inst.MgmtAddr()+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	resp, err := e.mgmc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// api calls the management listener, wants status and returns the
// answer's body.
func (e *fxEnv) api(ctx context.Context, t *testing.T, method, path, body string, status int) []byte {
	t.Helper()
	got, b, err := e.do(ctx, method, path, body)
	if err != nil || got != status {
		t.Fatalf("%s %s: %d %s (%v), want %d", method, path, got, b, err, status)
	}
	return b
}

// fxRuleStatus is a rule as GET /faults shows it.
type fxRuleStatus struct {
	Name string `json:"name"`
	Hits int64  `json:"hits"`
	Seen int64  `json:"seen"`
}

// rules lists the rules by name.
func (e *fxEnv) rules(ctx context.Context, t *testing.T) map[string]fxRuleStatus {
	t.Helper()
	var list struct {
		Rules []fxRuleStatus `json:"rules"`
	}
	if err := json.Unmarshal(e.api(ctx, t, http.MethodGet, "/faults", "", http.StatusOK), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]fxRuleStatus{}
	for _, r := range list.Rules {
		out[r.Name] = r
	}
	return out
}

// addRule POSTs rule, wants it shown with no hits yet, and deletes it at
// the end of t if it is still there.
func (e *fxEnv) addRule(ctx context.Context, t *testing.T, rule string) fxRuleStatus {
	t.Helper()
	var got fxRuleStatus
	if err := json.Unmarshal(e.api(ctx, t, http.MethodPost, "/faults", rule, http.StatusCreated), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name == "" || got.Hits != 0 {
		t.Fatalf("POST /faults %s answered %+v", rule, got)
	}
	t.Cleanup(func() { _, _, _ = e.do(context.Background(), http.MethodDelete, "/faults/"+got.Name, "") })
	return got
}

// deleteRule deletes one rule by name.
func (e *fxEnv) deleteRule(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	if b := e.api(ctx, t, http.MethodDelete, "/faults/"+name, "", http.StatusOK); !strings.Contains(string(b), `"deleted": 1`) {
		t.Errorf("DELETE /faults/%s: %s", name, b)
	}
}

// fxFaultEvent is a fault-fired event as GET /events shows it.
type fxFaultEvent struct {
	Kind    string `json:"kind"`
	Rule    string `json:"rule"`
	Account int64  `json:"account"`
	Message string `json:"message"`
}

// firings returns the journal's fault-fired events of rule.
func (e *fxEnv) firings(ctx context.Context, t *testing.T, rule string) []fxFaultEvent {
	t.Helper()
	var page struct {
		Events []fxFaultEvent `json:"events"`
	}
	if err := json.Unmarshal(e.api(ctx, t, http.MethodGet, "/events?kind=fault-fired&limit=1000", "", http.StatusOK), &page); err != nil {
		t.Fatal(err)
	}
	var out []fxFaultEvent
	for _, ev := range page.Events {
		if ev.Kind != "fault-fired" {
			t.Errorf("GET /events?kind=fault-fired returned a %q event", ev.Kind)
		}
		if ev.Rule == rule {
			out = append(out, ev)
		}
	}
	return out
}

// issue registers a fresh account and issues a certificate for name.
func (e *fxEnv) issue(ctx context.Context, name string) error {
	c, err := e.ld.newClient(ctx)
	if err != nil {
		return err
	}
	return c.issue(ctx, name)
}

// fxClient is a registered x/crypto/acme client whose responses are
// recorded as received (tap) before its polls are sped up
// (ldPollTransport): no test waits a Retry-After.
type fxClient struct {
	*acme.Client
	tap     *rlTap
	id      int64
	retries atomic.Int64 // requests the client repeated after a badNonce
}

func (e *fxEnv) client(ctx context.Context, t *testing.T) *fxClient {
	t.Helper()
	hc := httpClient(t, e.inst.BundlePEM())
	c := &fxClient{tap: &rlTap{next: hc.Transport}}
	hc.Transport = &ldPollTransport{base: c.tap, requests: new(atomic.Int64)}
	c.Client = &acme.Client{Key: rlKey(t), DirectoryURL: e.inst.DirectoryURL(), HTTPClient: hc, RetryBackoff: c.backoff}
	a, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	c.id = rlAccountID(t, a.URI)
	return c
}

// backoff repeats a request refused with badNonce (x/crypto/acme's only
// retried 400) up to 3 times, at once, and nothing else: the test sees
// the CA's first answer to anything but a bad nonce.
func (c *fxClient) backoff(n int, _ *http.Request, resp *http.Response) time.Duration {
	if n > 3 || resp == nil || resp.StatusCode != http.StatusBadRequest {
		return 0
	}
	c.retries.Add(1)
	return time.Millisecond
}

// authorize orders name and has its http-01 challenge validated; it
// returns the order and the authorization once validation is over.
func (c *fxClient) authorize(ctx context.Context, t *testing.T, name string) (*acme.Order, *acme.Authorization) {
	t.Helper()
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("new-order %s: %v", name, err)
	}
	z, err := c.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range z.Challenges {
		if ch.Type == e2eHTTP01 {
			if _, err := c.Accept(ctx, ch); err != nil {
				t.Fatalf("accept: %v", err)
			}
		}
	}
	_, _ = c.WaitAuthorization(ctx, z.URI) // an invalid authorization is an error; the caller reads it
	if z, err = c.GetAuthorization(ctx, z.URI); err != nil {
		t.Fatal(err)
	}
	return o, z
}

// finalize submits a CSR for name and waits for the certificate.
func (c *fxClient) finalize(ctx context.Context, t *testing.T, o *acme.Order, name string) error {
	t.Helper()
	_, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, e2eCSR(t, e2eLeafKey(t, false), []string{name}), true)
	return err
}

// fxWantProblem wants err to be the client's *acme.Error with this
// status, type and detail, and returns it.
func fxWantProblem(t *testing.T, err error, status int, typ, detail string) *acme.Error {
	t.Helper()
	var ae *acme.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *acme.Error %d %s %q", err, status, typ, detail)
	}
	if ae.StatusCode != status || ae.ProblemType != typ || ae.Detail != detail {
		t.Errorf("got %d %s %q, want %d %s %q", ae.StatusCode, ae.ProblemType, ae.Detail, status, typ, detail)
	}
	return ae
}

// fxFaulted places n orders for name and reports which the CA refused:
// a refusal must be an *acme.Error, anything else fails the test.
func fxFaulted(ctx context.Context, t *testing.T, c *fxClient, n int, names ...string) []bool {
	t.Helper()
	var out []bool
	for i := range n {
		for _, name := range names {
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
			var ae *acme.Error
			if err != nil && !errors.As(err, &ae) {
				t.Fatalf("new-order %d for %s: %v", i, name, err)
			}
			out = append(out, err != nil)
		}
	}
	return out
}

// fxCount is the number of true values.
func fxCount(bs []bool) int64 {
	var n int64
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// fxPattern is a run that places len(want) orders for ident and wants the
// CA to refuse exactly those marked true.
func fxPattern(want ...bool) func(context.Context, *testing.T, *fxEnv, *fxClient, string) int64 {
	return func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
		got := fxFaulted(ctx, t, c, len(want), ident)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("refused orders %v, want %v", got, want)
		}
		return fxCount(got)
	}
}

// fxCase is one fault rule and what a client sees while it is in place.
type fxCase struct {
	name  string
	ident string // the name the case orders; issued again once the rule is deleted
	// rule is POSTed to /faults as is, but for $ACCOUNT, which becomes
	// the client's account ID.
	rule string
	// run drives the client against the rule and returns how many times it
	// saw the rule fire.
	run func(ctx context.Context, t *testing.T, e *fxEnv, c *fxClient, ident string) (hits int64)
	// after checks ident once the rule is deleted; default: it issues.
	after func(ctx context.Context, t *testing.T, e *fxEnv, ident string)
	skip  string
}

// TestFaultsE2E adds each rule at run time, drives a fresh x/crypto/acme
// account against it, then checks the rule's hits (GET /faults) and
// fault-fired events (GET /events) agree with what the client saw, deletes
// it (DELETE /faults/{name}) and issues for the same name.
func TestFaultsE2E(t *testing.T) {
	e := newFXEnv(t)
	for _, c := range fxCases() {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skip(c.skip)
			}
			ctx := e2eContext(t)
			cl := e.client(ctx, t)
			rule := e.addRule(ctx, t, strings.ReplaceAll(c.rule, "$ACCOUNT", strconv.FormatInt(cl.id, 10)))
			hits := c.run(ctx, t, e, cl, c.ident)
			if got := e.rules(ctx, t)[rule.Name]; got.Hits != hits {
				t.Errorf("GET /faults: %s has %d hits, the client saw %d", rule.Name, got.Hits, hits)
			}
			if evs := e.firings(ctx, t, rule.Name); int64(len(evs)) != hits {
				t.Errorf("GET /events?kind=fault-fired: %d events of %s, the client saw %d firings: %+v", len(evs), rule.Name, hits, evs)
			}
			e.deleteRule(ctx, t, rule.Name)
			if _, ok := e.rules(ctx, t)[rule.Name]; ok {
				t.Errorf("GET /faults still lists %s after DELETE", rule.Name)
			}
			if c.after != nil {
				c.after(ctx, t, e, c.ident)
			} else if err := e.issue(ctx, c.ident); err != nil {
				t.Errorf("issuing %s once %s is deleted: %v", c.ident, rule.Name, err)
			}
		})
	}
	t.Run("management API", func(t *testing.T) { fxManagement(t, e) })
}

func fxCases() []fxCase {
	var all []fxCase
	for _, cs := range [][]fxCase{fxResponseCases(), fxNonceCases(), fxOrderCases(), fxValidationCases(), fxIssuanceCases(),
		fxMatchCases(), fxCountCases(), fxOrderingCases(), fxProfileCases()} {
		all = append(all, cs...)
	}
	return all
}

// fxResponseCases answer a request in place of the CA.
func fxResponseCases() []fxCase {
	return []fxCase{{
		name: "problem with Retry-After", ident: "maint.fx.test",
		rule: `{"name": "maintenance", "match": {"operation": "new-order"}, "action": {"problem": {"type": "serverInternal",
			"detail": "The service is down for maintenance", "status": 503}, "retryAfter": "30s"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
			ae := fxWantProblem(t, err, http.StatusServiceUnavailable, fxServerInternal, "The service is down for maintenance")
			if ra := ae.Header.Get("Retry-After"); ra != "30" {
				t.Errorf("the client's error has Retry-After %q, want 30", ra)
			}
			h := c.tap.last().header
			if h.Get("Retry-After") != "30" || h.Get("Content-Type") != "application/problem+json" || h.Get("Replay-Nonce") == "" {
				t.Errorf("headers %v, want Retry-After 30, a problem document and a Replay-Nonce", h)
			}
			return 1
		},
	}, {
		name: "raw HTTP response", ident: "proxy.fx.test",
		rule: `{"name": "proxy-502", "match": {"operation": "new-order"}, "action": {"http": {"status": 502,
			"body": "<html><body><h1>502 Bad Gateway</h1></body></html>", "contentType": "text/html"}, "retryAfter": "5s"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			const page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
			fxWantProblem(t, err, http.StatusBadGateway, "", page) // x/crypto/acme puts a non-JSON body in Detail
			r := c.tap.last()
			if r.status != http.StatusBadGateway || string(r.body) != page || r.header.Get("Content-Type") != "text/html" ||
				r.header.Get("Retry-After") != "5" || r.header.Get("Replay-Nonce") != "" || r.header.Get("Link") != "" {
				t.Errorf("got %d %v %q, want a proxy's bare 502 page with Retry-After 5", r.status, r.header, r.body)
			}
			return 1
		},
	}, {
		name: "delay", ident: "slow.fx.test",
		rule: `{"name": "slow-orders", "match": {"operation": "new-order", "identifier": "slow.fx.test"}, "action": {"delay": "200ms"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			start := time.Now()
			if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident)); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				t.Errorf("new-order answered after %s, want ≥ 200ms", d)
			}
			return 1
		},
	}, {
		name: "dropped connection", ident: "drop.fx.test",
		rule: `{"name": "drop", "match": {"operation": "new-order"}, "action": {"drop": true}}`,
		run:  fxWantConnErr(io.EOF),
	}, {
		name: "TCP reset", ident: "reset.fx.test",
		rule: `{"name": "reset", "match": {"operation": "new-order", "identifier": "reset.fx.test"}, "action": {"reset": true}}`,
		run:  fxWantConnErr(syscall.ECONNRESET),
	}}
}

// fxNonceCases refuse a nonce or spoil the CA's answer.
func fxNonceCases() []fxCase {
	return []fxCase{{
		name: "badNonce once is retried", ident: "nonce1.fx.test",
		rule: `{"name": "nonce-once", "match": {"operation": "new-order", "max": 1}, "action": {"badNonce": true}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident)); err != nil {
				t.Errorf("new-order after one badNonce: %v, want success after a retry", err)
			}
			if n := c.retries.Load(); n != 1 {
				t.Errorf("the client retried %d times, want 1", n)
			}
			return 1
		},
	}, {
		name: "badNonce every time", ident: "nonce.fx.test",
		rule: `{"name": "nonce-always", "match": {"operation": "new-order", "every": 1}, "action": {"badNonce": true}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
			fxWantProblem(t, err, http.StatusBadRequest, fxBadNonce, "JWS has an invalid anti-replay nonce")
			if n := c.retries.Load(); n != 3 {
				t.Errorf("the client retried %d times, want 3 (its backoff's limit)", n)
			}
			return 4
		},
	}, {
		name: "malformed JSON", ident: "half.fx.test",
		rule: `{"name": "half-json", "match": {"operation": "order", "identifier": "half.fx.test"}, "action": {"malformedJSON": true}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			_, err := c.GetOrder(ctx, o.URI)
			var ae *acme.Error
			if err == nil || errors.As(err, &ae) {
				t.Errorf("GET order: %v, want a decoding error", err)
			}
			if r := c.tap.last(); r.status != http.StatusOK || json.Valid(r.body) || !strings.HasPrefix(string(r.body), "{") {
				t.Errorf("got %d %q, want 200 with half a JSON object", r.status, r.body)
			}
			return 1
		},
	}, {
		name: "wrong Content-Type", ident: "html.fx.test",
		rule: `{"name": "html-order", "match": {"operation": "order", "identifier": "html.fx.test"},
			"action": {"contentType": "text/html; charset=utf-8"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			if _, err := c.GetOrder(ctx, o.URI); err != nil { // x/crypto/acme ignores Content-Type
				t.Errorf("GET order: %v", err)
			}
			if r := c.tap.last(); r.header.Get("Content-Type") != "text/html; charset=utf-8" || !json.Valid(r.body) {
				t.Errorf("got %v %q, want the order as text/html", r.header, r.body)
			}
			return 1
		},
	}}
}

// fxWantConnErr is a run whose new-order fails below HTTP with want.
func fxWantConnErr(want error) func(context.Context, *testing.T, *fxEnv, *fxClient, string) int64 {
	return func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
		_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
		if !errors.Is(err, want) {
			t.Errorf("new-order: %v, want %v", err, want)
		}
		return 1
	}
}

// fxOrderCases hold an order back.
func fxOrderCases() []fxCase {
	return []fxCase{{
		name: "stuck processing", ident: "stuck.fx.test",
		rule: `{"name": "stuck-processing", "match": {"operation": "finalize", "identifier": "stuck.fx.test"},
			"action": {"stuck": "processing"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			if err := c.finalize(wctx, t, o, ident); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("finalize: %v, want to be still waiting", err)
			}
			got, err := c.GetOrder(ctx, o.URI)
			if err != nil || got.Status != acme.StatusProcessing {
				t.Fatalf("order %v, %v; want processing", got, err)
			}
			if ra := c.tap.last().header.Get("Retry-After"); ra != "3" {
				t.Errorf("processing order's Retry-After %q, want 3", ra)
			}
			return 1
		},
	}, {
		name: "stuck pending", ident: "pending.fx.test",
		rule: `{"name": "stuck-pending", "match": {"operation": "order", "identifier": "pending.fx.test"}, "action": {"stuck": "pending"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, z := c.authorize(ctx, t, ident)
			for range 2 {
				got, err := c.GetOrder(ctx, o.URI)
				if err != nil || got.Status != acme.StatusPending || z.Status != acme.StatusValid {
					t.Errorf("order %v, %v with its authorization %s; want pending", got, err, z.Status)
				}
			}
			return 2
		},
	}}
}

// fxValidationCases decide or delay a validation.
func fxValidationCases() []fxCase {
	return []fxCase{{
		name: "validation fails with the rule's problem", ident: "nx.fx.test",
		rule: `{"name": "nxdomain", "match": {"operation": "validation", "identifier": "nx.fx.test"}, "action": {"problem": {"type": "dns",
			"detail": "DNS problem: NXDOMAIN looking up A for nx.fx.test - check that a DNS record exists for this domain"}}}`,
		run: fxWantInvalid(http.StatusBadRequest, fxDNS,
			"DNS problem: NXDOMAIN looking up A for nx.fx.test - check that a DNS record exists for this domain"),
	}, {
		name: "validation fails by default with a timeout", ident: "timeout.fx.test",
		rule: `{"name": "firewall", "match": {"operation": "validation", "identifier": "timeout.fx.test"}, "action": {"validation": "invalid"}}`,
		run:  fxWantInvalid(http.StatusBadRequest, fxConnection, "Timeout during connect (likely firewall problem)"),
	}, {
		name: "validation forced valid", ident: "ok.real.fx.test",
		rule: `{"name": "force-valid", "match": {"operation": "validation", "identifier": "*.real.fx.test"}, "action": {"validation": "valid"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, z := c.authorize(ctx, t, ident)
			if z.Status != acme.StatusValid {
				t.Fatalf("authorization %s, want valid though nothing answers http-01", z.Status)
			}
			if err := c.finalize(ctx, t, o, ident); err != nil {
				t.Errorf("finalize: %v", err)
			}
			return 1
		},
		after: func(ctx context.Context, t *testing.T, e *fxEnv, ident string) {
			c := e.client(ctx, t)
			if _, z := c.authorize(ctx, t, ident); z.Status != acme.StatusInvalid {
				t.Errorf("authorization once the rule is deleted: %s, want invalid (its responder answers 404)", z.Status)
			}
		},
	}, {
		name: "validation delay", ident: "slowval.fx.test",
		rule: `{"name": "slow-validation", "match": {"operation": "validation", "identifier": "slowval.fx.test"},
			"action": {"validationDelay": "300ms"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			start := time.Now()
			_, z := c.authorize(ctx, t, ident)
			if d := time.Since(start); z.Status != acme.StatusValid || d < 300*time.Millisecond {
				t.Errorf("authorization %s after %s, want valid after ≥ 300ms", z.Status, d)
			}
			return 1
		},
	}}
}

// fxWantInvalid is a run whose authorization ends invalid, its challenge
// carrying the problem.
func fxWantInvalid(status int, typ, detail string) func(context.Context, *testing.T, *fxEnv, *fxClient, string) int64 {
	return func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
		_, z := c.authorize(ctx, t, ident)
		if z.Status != acme.StatusInvalid {
			t.Fatalf("authorization %s, want invalid", z.Status)
		}
		for _, ch := range z.Challenges { // all are shown invalid; the one tried carries the problem
			if ch.Type == e2eHTTP01 {
				fxWantProblem(t, ch.Error, status, typ, detail)
			}
		}
		return 1
	}
}

// fxIssuanceCases fail or delay an issuance.
func fxIssuanceCases() []fxCase {
	return []fxCase{{
		name: "issuance fails with the rule's problem", ident: "hsm.fx.test",
		rule: `{"name": "hsm-down", "match": {"operation": "issuance", "identifier": "hsm.fx.test"},
			"action": {"problem": {"type": "serverInternal", "detail": "HSM unavailable"}}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			var oe *acme.OrderError
			if err := c.finalize(ctx, t, o, ident); !errors.As(err, &oe) || oe.Status != acme.StatusInvalid {
				t.Errorf("finalize: %v, want the order invalid", err)
			}
			got, err := c.GetOrder(ctx, o.URI)
			if err != nil || got.Error == nil {
				t.Fatalf("order %v, %v; want its error", got, err)
			}
			// Like Boulder's own issuance failures, with finalize's prefix.
			fxWantProblem(t, got.Error, http.StatusInternalServerError, fxServerInternal, "Error finalizing order :: HSM unavailable")
			return 1
		},
	}, {
		name: "issuance delay", ident: "slowissue.fx.test",
		rule: `{"name": "slow-issuance", "match": {"operation": "issuance", "identifier": "slowissue.fx.test"}, "action": {"delay": "200ms"}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			start := time.Now()
			if err := c.finalize(ctx, t, o, ident); err != nil || time.Since(start) < 200*time.Millisecond {
				t.Errorf("finalize: %v after %s, want a certificate after ≥ 200ms", err, time.Since(start))
			}
			return 1
		},
	}}
}

// fxMatchCases fire on some identifiers or accounts only.
func fxMatchCases() []fxCase {
	return []fxCase{{
		name: "identifier glob", ident: "glob.fx.test",
		rule: `{"name": "glob", "match": {"operation": "new-order", "identifier": "*.glob.fx.test"},
			"action": {"problem": {"type": "rejectedIdentifier", "detail": "forbidden by policy"}}}`,
		run: func(ctx context.Context, t *testing.T, _ *fxEnv, c *fxClient, ident string) int64 {
			got := fxFaulted(ctx, t, c, 1, "a."+ident, ident, "b.c."+ident, "other.fx.test")
			if want := []bool{true, false, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("refused %v for [a.%[2]s %[2]s b.c.%[2]s other.fx.test], want %v", got, ident, want)
			}
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("ok.fx.test", "x."+ident))
			fxWantProblem(t, err, http.StatusBadRequest, fxRejected, "forbidden by policy")
			return fxCount(got) + 1
		},
	}, {
		name: "account", ident: "acct.fx.test",
		rule: `{"name": "one-account", "match": {"operation": "new-order", "account": $ACCOUNT},
			"action": {"problem": {"type": "unauthorized", "detail": "account on hold"}}}`,
		run: func(ctx context.Context, t *testing.T, e *fxEnv, c *fxClient, ident string) int64 {
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
			fxWantProblem(t, err, http.StatusForbidden, fxUnauthorized, "account on hold")
			if _, err := e.client(ctx, t).AuthorizeOrder(ctx, acme.DomainIDs(ident)); err != nil {
				t.Errorf("another account's new-order: %v", err)
			}
			if evs := e.firings(ctx, t, "one-account"); len(evs) != 1 || evs[0].Account != c.id || evs[0].Message != "operation new-order" {
				t.Errorf("events %+v, want one for account %d at new-order", evs, c.id)
			}
			return 1
		},
	}}
}

// fxCountCases fire on some of the requests that match.
func fxCountCases() []fxCase {
	return []fxCase{{
		name: "nth", ident: "nth.fx.test",
		rule: `{"name": "second", "match": {"operation": "new-order", "identifier": "nth.fx.test", "nth": 2},
			"action": {"problem": {"type": "serverInternal"}}}`,
		run: fxPattern(false, true, false, false),
	}, {
		name: "every", ident: "every.fx.test",
		rule: `{"name": "every-other", "match": {"operation": "new-order", "identifier": "every.fx.test", "every": 2},
			"action": {"problem": {"type": "serverInternal"}}}`,
		run: fxPattern(false, true, false, true),
	}, {
		name: "max", ident: "max.fx.test",
		rule: `{"name": "first-two", "match": {"operation": "new-order", "identifier": "max.fx.test", "max": 2},
			"action": {"problem": {"type": "serverInternal"}}}`,
		run: fxPattern(true, true, false, false),
	}, {
		name: "probability with a seed is deterministic", ident: "coin.fx.test",
		rule: fmt.Sprintf(fxCoinRule, "coin", "coin.fx.test"),
		run: func(ctx context.Context, t *testing.T, e *fxEnv, c *fxClient, ident string) int64 {
			first := fxFaulted(ctx, t, c, 16, ident)
			// The same draw for another name: the same firings.
			twin := e.addRule(ctx, t, fmt.Sprintf(fxCoinRule, "coin-twin", "twin.coin.fx.test"))
			again := fxFaulted(ctx, t, c, 16, "twin."+ident)
			if n := fxCount(first); n == 0 || n == 16 || fmt.Sprint(first) != fmt.Sprint(again) {
				t.Errorf("refusals %v then %v, want the same mix twice", first, again)
			}
			e.deleteRule(ctx, t, twin.Name)
			return fxCount(first)
		},
	}}
}

// fxOrderingCases have two rules for one request.
func fxOrderingCases() []fxCase {
	return []fxCase{{
		name: "the first rule in order wins", ident: "first.fx.test",
		rule: `{"name": "specific", "match": {"operation": "new-order", "identifier": "first.fx.test"},
			"action": {"problem": {"type": "rejectedIdentifier", "detail": "specific"}}}`,
		run: func(ctx context.Context, t *testing.T, e *fxEnv, c *fxClient, ident string) int64 {
			general := e.addRule(ctx, t, `{"name": "general", "match": {"operation": "new-order"},
				"action": {"problem": {"type": "serverInternal"}}}`)
			_, err := c.AuthorizeOrder(ctx, acme.DomainIDs(ident))
			fxWantProblem(t, err, http.StatusBadRequest, fxRejected, "specific")
			if got := e.rules(ctx, t)[general.Name]; got.Hits != 0 || got.Seen != 0 {
				t.Errorf("the later rule %+v moved, want no hits and nothing seen", got)
			}
			e.deleteRule(ctx, t, general.Name)
			return 1
		},
	}, {
		name: "one rule fires per request", ident: "once.fx.test",
		rule: `{"name": "html-first", "match": {"operation": "order"}, "action": {"contentType": "text/html"}}`,
		run: func(ctx context.Context, t *testing.T, e *fxEnv, c *fxClient, ident string) int64 {
			o, _ := c.authorize(ctx, t, ident)
			later := e.addRule(ctx, t, `{"name": "pending-later", "match": {"operation": "order", "identifier": "once.fx.test"},
				"action": {"stuck": "pending"}}`)
			got, err := c.GetOrder(ctx, o.URI)
			if err != nil || got.Status != acme.StatusReady {
				t.Errorf("order %v, %v; want ready (the first rule only changes its Content-Type)", got, err)
			}
			if got := e.rules(ctx, t)[later.Name]; got.Hits != 0 {
				t.Errorf("the later rule fired too: %+v", got)
			}
			e.deleteRule(ctx, t, later.Name)
			return 1
		},
	}}
}

// fxProfileCases filter on the order's profile.
func fxProfileCases() []fxCase {
	return []fxCase{{
		name: "profile matches the default profile by name", ident: "classic.fx.test",
		rule: `{"name": "classic-only", "match": {"operation": "new-order", "profile": "classic"},
			"action": {"problem": {"type": "serverInternal"}}}`,
		run: fxPattern(true),
	}}
}

// fxCoinRule (name, identifier) fires on half of the identifier's new
// orders, drawn with seed 42.
const fxCoinRule = `{"name": %q, "match": {"operation": "new-order", "identifier": %q, "probability": 0.5, "seed": 42},
	"action": {"problem": {"type": "serverInternal"}}}`

// fxManagement checks the management API's refusals and DELETE /faults.
func fxManagement(t *testing.T, e *fxEnv) {
	ctx := e2eContext(t)
	const a = `{"name": "a", "match": {"operation": "new-order"}, "action": {"problem": {"type": "serverInternal"}}}`
	e.addRule(ctx, t, a)
	e.addRule(ctx, t, `{"name": "b", "match": {"operation": "finalize"}, "action": {"drop": true}}`)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"duplicate name", http.MethodPost, "/faults", a, http.StatusConflict, "already exists"},
		{"unknown key", http.MethodPost, "/faults", `{"name": "c", "action": {"dorp": true}}`, http.StatusBadRequest, "dorp"},
		{"action at the wrong operation", http.MethodPost, "/faults",
			`{"name": "c", "match": {"operation": "new-order"}, "action": {"stuck": "processing"}}`, http.StatusBadRequest, "action.stuck"},
		{"delete an unknown rule", http.MethodDelete, "/faults/c", "", http.StatusNotFound, `no rule named \"c\"`},
		{"delete every rule", http.MethodDelete, "/faults", "", http.StatusOK, `"deleted": 2`},
		{"none left", http.MethodGet, "/faults", "", http.StatusOK, `"rules": []`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if b := e.api(ctx, t, c.method, c.path, c.body, c.status); !strings.Contains(string(b), c.want) {
				t.Errorf("%s %s: %s, want %s", c.method, c.path, b, c.want)
			}
		})
	}
	if err := e.issue(ctx, "cleared.fx.test"); err != nil {
		t.Errorf("issuing once every rule is deleted: %v", err)
	}
}
