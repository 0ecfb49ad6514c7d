package ratelimit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

func TestEndpointOf(t *testing.T) {
	tests := map[string]endpoint{
		"/acme/new-nonce": endpointNewNonce, "/acme/new-acct": endpointNewAccount, "/acme/new-order": endpointNewOrder,
		"/acme/revoke-cert": endpointRevokeCert, "/acme/renewal-info/abc.def": endpointRenewalInfo,
		"/acme/order/1/2": endpointACME, "/directory": endpointDirectory, "/dir": endpointDirectory,
		"/sfe/v1/unpause": endpointNone, "/": endpointNone,
	}
	for path, want := range tests {
		if got := endpointOf(path); got != want {
			t.Errorf("%s: got %d, want %d", path, got, want)
		}
	}
}

func TestRequestAllowed(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		path    string
		allowed int           // requests allowed at once
		refill  time.Duration // after which one more is allowed
	}{
		{"staging new-order: burst 40, 20/s", Config{}, "/acme/new-order", 40, 50 * time.Millisecond},
		{"production new-order: burst 200, 300/s", Config{Preset: PresetProduction}, "/acme/new-order", 200, time.Second / 300},
		{"staging other ACME: burst 20, 20/s", Config{}, "/acme/authz/1/2", 20, 50 * time.Millisecond},
		{"new-account: burst 15, 5/s", Config{}, "/acme/new-acct", 15, 200 * time.Millisecond},
		{"directory: burst 40, 40/s", Config{}, "/directory", 40, 25 * time.Millisecond},
		{"unlimited path", Config{}, "/sfe/v1/unpause", 1000, 0},
		{"disabled", Config{DisableRequestLimits: true}, "/acme/new-order", 1000, 0},
		{"off", Config{Preset: PresetOff}, "/acme/new-order", 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newTest(t, tt.cfg)
			ip := addr("192.0.2.1")
			for i := range tt.allowed {
				mustAllow(t, "request "+itoa(i), l.RequestAllowed(tt.path, ip))
			}
			if tt.refill == 0 {
				return
			}
			err := l.RequestAllowed(tt.path, ip)
			e, ok := acme.As(err)
			if !ok || e.HTTPStatus() != 503 || e.Type != acme.RateLimited || e.Detail != "Service busy; retry later." || e.RetryAfter != time.Second {
				t.Fatalf("want the load balancer's 503, got %#v", err)
			}
			mustAllow(t, "another IP", l.RequestAllowed(tt.path, addr("192.0.2.2")))
			mustAllow(t, "another endpoint", l.RequestAllowed("/acme/revoke-cert", ip))
			clk.Step(tt.refill)
			mustAllow(t, "after refill", l.RequestAllowed(tt.path, ip))
		})
	}
}

func TestLoadBalancer(t *testing.T) {
	l, _ := newTest(t, Config{})
	h := l.LoadBalancer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	req := httptest.NewRequest("POST", "/acme/new-acct", nil)
	req.RemoteAddr = "192.0.2.9:4444"
	for range 15 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 204 {
			t.Fatalf("allowed request: %d", rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != "application/problem+json" ||
		string(body) != `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"Service busy; retry later."}` ||
		rec.Header().Get("Link") != "" || rec.Header().Get("Replay-Nonce") != "" {
		t.Errorf("got %d %v %s", rec.Code, rec.Header(), body)
	}
}
