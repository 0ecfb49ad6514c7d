package ratelimit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// call sends a management request and decodes the JSON answer.
func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, out
}

func TestManagementAPI(t *testing.T) {
	l, clk := newTest(t, Config{Preset: PresetProduction})
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	ctx := context.Background()

	_ = order(l, 5, dns("a.example.com")...)
	_ = l.AuthzFailed(ctx, 5, dns("a.example.com")[0])
	_, _ = l.PauseIdentifiers(ctx, 9, dns("z.example.com"))
	clk.Step(10 * time.Second)

	code, list := call(t, srv, "GET", "/rate-limits", "")
	want := map[string]any{
		"buckets": []any{
			map[string]any{"limit": "NewOrdersPerAccount", "key": "3:5", "remaining": 299.0, "burst": 300.0,
				"resetAt": "2026-11-26T12:00:36Z"},
			map[string]any{"limit": "FailedAuthorizationsPerDomainPerAccount", "key": "4:5:a.example.com",
				"remaining": 4.0, "burst": 5.0, "resetAt": "2026-11-26T12:12:00Z"},
			map[string]any{"limit": "FailedAuthorizationsForPausingPerDomainPerAccount", "key": "8:5:a.example.com",
				"remaining": 1151.0, "burst": 1152.0, "resetAt": "2026-11-27T12:00:00Z"},
		},
		"paused": []any{map[string]any{"account": 9.0, "identifier": map[string]any{"type": "dns", "value": "z.example.com"},
			"pausedAt": "2026-11-26T12:00:00Z"}},
	}
	if code != 200 || !reflect.DeepEqual(list, want) {
		t.Fatalf("list %d:\n got %v\nwant %v", code, list, want)
	}

	// Exhaust by limit and id, then the next order is denied.
	code, b := call(t, srv, "POST", "/rate-limits/exhaust", `{"limit": "NewOrdersPerAccount", "key": "6"}`)
	wantB := map[string]any{"limit": "NewOrdersPerAccount", "key": "3:6", "remaining": 0.0, "burst": 300.0,
		"resetAt": "2026-11-26T15:00:10Z", "retryAt": "2026-11-26T12:00:46Z"}
	if code != 200 || !reflect.DeepEqual(b, wantB) {
		t.Fatalf("exhaust %d:\n got %v\nwant %v", code, b, wantB)
	}
	rateLimited(t, order(l, 6, dns("a.example.com")...))
	// By full key, the limit inferred; by domain for the per-domain limit.
	for _, body := range []string{`{"key": "3:7"}`, `{"limit": "CertificatesPerDomain", "key": "www.Example.com"}`} {
		if code, b = call(t, srv, "POST", "/rate-limits/exhaust", body); code != 200 {
			t.Fatalf("exhaust %s: %d %v", body, code, b)
		}
	}
	rateLimited(t, order(l, 7, dns("b.example.net")...))
	if e := rateLimited(t, order(l, 8, dns("c.example.com")...)); !strings.Contains(e.Detail, `"example.com"`) {
		t.Errorf("per-domain exhaust: %s", e.Detail)
	}

	// Reset one bucket, then all.
	if code, b = call(t, srv, "POST", "/rate-limits/reset", `{"key": "3:6"}`); code != 200 || b["reset"] != 1.0 {
		t.Fatalf("reset one: %d %v", code, b)
	}
	mustAllow(t, "after reset", order(l, 6, dns("a.example.org")...))
	if code, b = call(t, srv, "POST", "/rate-limits/reset", `{"limit": "NewOrdersPerAccount", "key": "99"}`); code != 200 || b["reset"] != 0.0 {
		t.Fatalf("reset missing: %d %v", code, b)
	}
	if code, b = call(t, srv, "POST", "/rate-limits/reset", ``); code != 200 || b["reset"] != 6.0 {
		t.Fatalf("reset all: %d %v", code, b)
	}
	if _, list = call(t, srv, "GET", "/rate-limits", ""); len(list["buckets"].([]any)) != 0 {
		t.Fatalf("after reset all: %v", list)
	}

	// Pause through the API.
	code, b = call(t, srv, "POST", "/rate-limits/pause", `{"account": 6, "identifiers": [{"type": "dns", "value": "a.example.com"}]}`)
	if code != 200 || !reflect.DeepEqual(b["results"], []any{"paused"}) {
		t.Fatalf("pause: %d %v", code, b)
	}
	if e := rateLimited(t, order(l, 6, dns("a.example.com")...)); !strings.HasPrefix(e.Detail, "Your account is temporarily prevented") {
		t.Errorf("not paused: %s", e.Detail)
	}
}

func TestManagementAPIErrors(t *testing.T) {
	l, _ := newTest(t, Config{Preset: PresetOff})
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	tests := []struct {
		path, body, want string
	}{
		{"/rate-limits/exhaust", `{"limit": "Nope", "key": "1"}`, "unknown limit Nope (want one of "},
		{"/rate-limits/exhaust", `{"key": "1"}`, `give "limit", or a full bucket key such as "3:12345" as "key"`},
		{"/rate-limits/exhaust", `{"limit": "NewOrdersPerAccount", "key": "x"}`, `"x" is not an account ID (a positive integer)`},
		{"/rate-limits/exhaust", `{"limit": "NewOrdersPerAccount", "key": "1"}`, `NewOrdersPerAccount is disabled for bucket "3:1" (preset off and no override)`},
		{"/rate-limits/exhaust", `{"limit": "FailedAuthorizationsPerDomainPerAccount", "key": "a.com"}`, `FailedAuthorizationsPerDomainPerAccount keys are <account>:<identifier>, got "a.com"`},
		{"/rate-limits/exhaust", `{"limit": "NewOrdersPerAccount", "key": "1", "extra": 1}`, `bad JSON body: json: unknown field "extra"`},
		{"/rate-limits/reset", `{`, "bad JSON body: unexpected EOF"},
		{"/rate-limits/pause", `{"account": 0}`, `"account" (> 0) and "identifiers" are required`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			code, b := call(t, srv, "POST", tt.path, tt.body)
			if msg, _ := b["error"].(string); code != 400 || !strings.HasPrefix(msg, tt.want) {
				t.Errorf("%d %q, want 400 %q", code, msg, tt.want)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/rate-limits", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /rate-limits: %d", resp.StatusCode)
	}
}

func TestBucketKey(t *testing.T) {
	tests := []struct {
		name Name
		id   string
		want string
	}{
		{NewRegistrationsPerIPAddress, "192.0.2.1", "1:192.0.2.1"},
		{NewRegistrationsPerIPv6Range, "2001:db8:1:2::3", "2:2001:db8:1::/48"},
		{NewRegistrationsPerIPv6Range, "2:2001:db8:1::/48", "2:2001:db8:1::/48"},
		{NewOrdersPerAccount, "3:12", "3:12"},
		{FailedAuthorizationsPerDomainPerAccount, "12:WWW.example.com", "4:12:www.example.com"},
		{CertificatesPerDomain, "a.b.example.co.uk", "5:example.co.uk"},
		{CertificatesPerDomain, "2001:db8::7", "5:2001:db8::/64"},
		{CertificatesPerDomain, "5:192.0.2.1/32", "5:192.0.2.1/32"},
		{CertificatesPerFQDNSet, "b.com,a.com", "7:" + fqdnSetHash(dns("a.com", "b.com"))},
		{CertificatesPerFQDNSet, "7:" + fqdnSetHash(dns("a.com")), "7:" + fqdnSetHash(dns("a.com"))},
		{FailedAuthorizationsForPausingPerDomainPerAccount, "3:a.com", "8:3:a.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name.String()+" "+tt.id, func(t *testing.T) {
			got, err := bucketKey(tt.name, tt.id)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
