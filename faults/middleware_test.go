package faults

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// harness is an HTTP server shaped like ca: a route wrapper sets
// Replay-Nonce, then the faults middleware, then a handler that calls
// Check with the identifier from the X-Identifier header.
type harness struct {
	srv    *httptest.Server
	clk    *clocktesting.FakeClock
	e      *Engine
	fired  chan string
	mu     sync.Mutex
	errs   []*acme.Error // what the fake error writer was given
	served atomic.Int32  // handler runs
}

func newHarness(t *testing.T, mounted bool, rules ...Rule) *harness {
	t.Helper()
	h := &harness{clk: clocktesting.NewFakeClock(t0), fired: make(chan string, 100)}
	e, err := New(Config{Rules: rules}, Deps{Clock: h.clk, OnFire: func(r Rule, _ Request) { h.fired <- r.Name }})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.served.Add(1)
		req := Request{}
		if id := r.Header.Get("X-Identifier"); id != "" {
			req.Identifiers = dns(id)
		}
		if !mounted {
			req.Operation = opOf(r)
		}
		a, err := e.Check(w, r, req)
		if errors.Is(err, ErrHandled) {
			return
		}
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"status": "ok", "stuck": "`+string(a.Stuck)+`"}`)
	})
	var inner http.Handler = app
	if mounted {
		inner = e.Middleware(opOf, h.writeError)(app)
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", "nonce-1")
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// writeError is the fake of ca's renderer: it records the error and
// writes a small problem document.
func (h *harness) writeError(w http.ResponseWriter, _ *http.Request, err error) {
	p, ok := acme.As(err)
	if !ok {
		p = acme.New(acme.ServerInternal, "not an acme error: %v", err)
	}
	h.mu.Lock()
	h.errs = append(h.errs, p)
	h.mu.Unlock()
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", (p.RetryAfter / time.Second * time.Second).String())
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.HTTPStatus())
	_ = json.NewEncoder(w).Encode(map[string]string{"type": string(p.Type), "detail": p.Detail})
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
	err    error
}

// do sends one request on a fresh connection.
func (h *harness) do(ctx context.Context, method, op, ident string) response {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	}
	req, _ := http.NewRequestWithContext(ctx, method, h.srv.URL+"/"+op, body)
	if ident != "" {
		req.Header.Set("X-Identifier", ident)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func (h *harness) problems() []*acme.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.errs
}

const okBody = `{"status": "ok", "stuck": ""}`

// check inspects what a client saw.
type check func(t *testing.T, h *harness, got response)

// wantStatus expects a response with this status, Content-Type and body.
func wantStatus(code int, ct, body string) check {
	return func(t *testing.T, _ *harness, got response) {
		if got.err != nil || got.status != code || got.header.Get("Content-Type") != ct || got.body != body {
			t.Errorf("got %d %q %q (%v), want %d %q %q", got.status, got.header.Get("Content-Type"), got.body, got.err, code, ct, body)
		}
	}
}

// wantProblem expects the fake error writer to have been given want, once.
func wantProblem(want acme.Error, retryAfter string) check {
	return func(t *testing.T, h *harness, got response) {
		ps := h.problems()
		if len(ps) != 1 || ps[0].Type != want.Type || ps[0].Detail != want.Detail || ps[0].HTTPStatus() != want.Status ||
			got.status != want.Status || got.header.Get("Retry-After") != retryAfter || got.header.Get("Replay-Nonce") != "nonce-1" {
			t.Errorf("problems %+v, response %d %v", ps, got.status, got.header)
		}
	}
}

// wantConnErr expects the client to fail with target.
func wantConnErr(target error) check {
	return func(t *testing.T, _ *harness, got response) {
		if !errors.Is(got.err, target) {
			t.Errorf("client error %v, want %v", got.err, target)
		}
	}
}

// actionCase is one request against a server holding one rule.
type actionCase struct {
	name          string
	rule          Rule
	method, op    string
	ident         string
	want          check
	servedHandler bool
}

func runActions(t *testing.T, tests []actionCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, true, tt.rule)
			got := h.do(t.Context(), tt.method, tt.op, tt.ident)
			tt.want(t, h, got)
			if served := h.served.Load() == 1; served != tt.servedHandler {
				t.Errorf("handler ran: %v, want %v", served, tt.servedHandler)
			}
		})
	}
}

// TestMiddlewareActions: rules that Middleware applies before the handler.
func TestMiddlewareActions(t *testing.T) {
	runActions(t, []actionCase{
		{"no fault", Rule{Name: "r", Match: Match{Operation: OpFinalize}, Action: Action{Drop: true}}, "POST", "order", "",
			wantStatus(200, "application/json", okBody), true},
		{"not an operation", Rule{Name: "r", Action: Action{Drop: true}}, "POST", "nowhere", "",
			wantStatus(200, "application/json", okBody), true},
		{"problem with retry-after", Rule{Name: "r", Action: Action{Problem: &Problem{Type: acme.ServerInternal,
			Detail: "The service is down for maintenance", Status: 503}, RetryAfter: 30 * time.Second}}, "POST", "new-order", "",
			wantProblem(acme.Error{Type: acme.ServerInternal, Detail: "The service is down for maintenance", Status: 503}, "30s"), false},
		{"badNonce on POST", Rule{Name: "r", Action: Action{BadNonce: true}}, "POST", "account", "",
			wantProblem(acme.Error{Type: acme.BadNonce, Detail: DetailBadNonce, Status: 400}, ""), false},
		{"badNonce leaves GET alone", Rule{Name: "r", Action: Action{BadNonce: true}}, "GET", "directory", "",
			wantStatus(200, "application/json", okBody), true},
		{"raw http replaces every header", Rule{Name: "r", Action: Action{HTTP: &HTTPResponse{Status: 502, Body: "<h1>Bad Gateway</h1>",
			ContentType: "text/html"}, RetryAfter: 10 * time.Second}}, "GET", "directory", "",
			func(t *testing.T, h *harness, got response) {
				wantStatus(502, "text/html", "<h1>Bad Gateway</h1>")(t, h, got)
				if got.header.Get("Replay-Nonce") != "" || got.header.Get("Retry-After") != "10" {
					t.Errorf("headers %v", got.header)
				}
			}, false},
		{"malformed json", Rule{Name: "r", Action: Action{MalformedJSON: true}}, "POST", "order", "",
			func(t *testing.T, h *harness, got response) {
				wantStatus(200, "application/json", okBody[:len(okBody)/2])(t, h, got)
				var v any
				if json.Unmarshal([]byte(got.body), &v) == nil {
					t.Error("body parses")
				}
			}, true},
		{"wrong content type", Rule{Name: "r", Action: Action{ContentType: "text/html; charset=utf-8"}}, "POST", "order", "",
			wantStatus(200, "text/html; charset=utf-8", okBody), true},
		{"both rewrites", Rule{Name: "r", Action: Action{ContentType: "text/plain", MalformedJSON: true}}, "POST", "order", "",
			wantStatus(200, "text/plain", okBody[:len(okBody)/2]), true},
		{"dropped connection", Rule{Name: "r", Action: Action{Drop: true}}, "POST", "new-order", "", wantConnErr(io.EOF), false},
		{"tcp reset", Rule{Name: "r", Action: Action{Reset: true}}, "POST", "new-order", "", wantConnErr(syscall.ECONNRESET), false},
		{"stuck is passed to the handler", Rule{Name: "r", Match: Match{Operation: OpOrder}, Action: Action{Stuck: acme.StatusPending}},
			"POST", "order", "", wantStatus(200, "application/json", `{"status": "ok", "stuck": "pending"}`), true},
	})
}

// TestCheckActions: rules that filter on an identifier fire in Check.
func TestCheckActions(t *testing.T) {
	runActions(t, []actionCase{
		{"late problem", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: problem500()}, "POST", "new-order", "a.flaky.test",
			wantProblem(acme.Error{Type: acme.ServerInternal, Detail: "down", Status: 500}, ""), true},
		{"late rule, other identifier", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: problem500()}, "POST", "new-order", "ok.test",
			wantStatus(200, "application/json", okBody), true},
		{"late drop", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: Action{Drop: true}}, "POST", "new-order", "a.flaky.test",
			wantConnErr(io.EOF), true},
		{"late reset", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: Action{Reset: true}}, "POST", "new-order", "a.flaky.test",
			wantConnErr(syscall.ECONNRESET), true},
		{"late raw http", Rule{Name: "r", Match: Match{Identifier: "a.flaky.test"}, Action: Action{HTTP: &HTTPResponse{Status: 504}}}, "POST", "order", "a.flaky.test",
			wantStatus(504, "text/plain; charset=utf-8", ""), true},
		{"late rewrite", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: Action{MalformedJSON: true, ContentType: "text/html"}}, "POST", "order", "a.flaky.test",
			wantStatus(200, "text/html", okBody[:len(okBody)/2]), true},
		{"late badNonce", Rule{Name: "r", Match: Match{Identifier: "*.flaky.test"}, Action: Action{BadNonce: true}}, "POST", "finalize", "a.flaky.test",
			wantProblem(acme.Error{Type: acme.BadNonce, Detail: DetailBadNonce, Status: 400}, ""), true},
		{"late stuck", Rule{Name: "r", Match: Match{Operation: OpFinalize, Identifier: "*.flaky.test"}, Action: Action{Stuck: acme.StatusReady}},
			"POST", "finalize", "a.flaky.test", wantStatus(200, "application/json", `{"status": "ok", "stuck": "ready"}`), true},
	})
}

// TestCheckWithoutMiddleware: Check alone applies every rule.
func TestCheckWithoutMiddleware(t *testing.T) {
	h := newHarness(t, false, Rule{Name: "early", Match: Match{Operation: OpOrder}, Action: problem500()},
		Rule{Name: "rewrite", Match: Match{Operation: OpAuthz}, Action: Action{ContentType: "text/html"}})
	if got := h.do(t.Context(), "POST", "order", ""); got.status != 500 || len(h.problems()) != 1 {
		t.Errorf("got %+v", got)
	}
	// A rewrite cannot be applied without the middleware: logged, ignored.
	if got := h.do(t.Context(), "POST", "authz", ""); got.status != 200 || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("got %+v", got)
	}
}

// waitFired waits for the rule to fire and the delay's timer to be set.
func waitFired(t *testing.T, h *harness, name string) {
	t.Helper()
	if got := <-h.fired; got != name {
		t.Fatalf("fired %q", got)
	}
	for !h.clk.HasWaiters() {
		runtime.Gosched()
	}
}

func TestMiddlewareDelay(t *testing.T) {
	for _, late := range []bool{false, true} {
		m := Match{Operation: OpNewOrder}
		if late {
			m.Identifier = "*.slow.test"
		}
		h := newHarness(t, true, Rule{Name: "slow", Match: m, Action: Action{Delay: 20 * time.Second}})
		done := make(chan response, 1)
		go func() { done <- h.do(context.Background(), "POST", "new-order", "a.slow.test") }()
		waitFired(t, h, "slow")
		h.clk.Step(20*time.Second - time.Nanosecond)
		if !h.clk.HasWaiters() {
			t.Fatal("delay ended early")
		}
		h.clk.Step(time.Nanosecond)
		if got := <-done; got.status != 200 || got.body != okBody {
			t.Errorf("late=%v: got %+v", late, got)
		}
	}
}

func TestMiddlewareDelayClientGone(t *testing.T) {
	h := newHarness(t, true, Rule{Name: "slow", Action: Action{Delay: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan response, 1)
	// A GET: net/http notices a client leaving only once the body is read.
	go func() { done <- h.do(ctx, "GET", "directory", "") }()
	waitFired(t, h, "slow")
	cancel()
	if got := <-done; !errors.Is(got.err, context.Canceled) {
		t.Errorf("client: %+v", got)
	}
	for h.clk.HasWaiters() { // the server notices the closed connection
		runtime.Gosched()
	}
	if h.served.Load() != 0 {
		t.Error("handler ran after the client left")
	}
}

// TestWriteHTTPAbortsWithoutHijack: a writer that cannot hijack (HTTP/2)
// gets http.ErrAbortHandler.
func TestWriteHTTPAbortsWithoutHijack(t *testing.T) {
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v", p)
		}
	}()
	Action{Reset: true}.WriteHTTP(httptest.NewRecorder())
	t.Error("did not panic")
}

func TestActionHelpers(t *testing.T) {
	tests := []struct {
		name   string
		a      Action
		forced bool
		want   *acme.Error
	}{
		{"nothing", Action{Delay: time.Second}, false, nil},
		{"valid", Action{Validation: acme.StatusValid}, true, nil},
		{"invalid, default problem", Action{Validation: acme.StatusInvalid}, true,
			acme.New(acme.Connection, "Timeout during connect (likely firewall problem)")},
		{"problem alone", Action{Problem: &Problem{Type: acme.DNS, Detail: "DNS problem: SERVFAIL looking up TXT for _acme-challenge.a.test"}}, true,
			acme.New(acme.DNS, "DNS problem: SERVFAIL looking up TXT for _acme-challenge.a.test")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forced, err := tt.a.ValidationResult()
			p, _ := acme.As(err)
			if forced != tt.forced || (tt.want == nil) != (err == nil) || tt.want != nil && (p.Type != tt.want.Type || p.Detail != tt.want.Detail) {
				t.Errorf("got %v %v, want %v %v", forced, err, tt.forced, tt.want)
			}
		})
	}
	if (Action{}).Error() != nil || (Action{}).WriteHTTP(httptest.NewRecorder()) {
		t.Error("zero action does something")
	}
}
