package events

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	j := fixture(t)
	tests := []struct {
		name     string
		method   string
		target   string
		status   int
		want     []uint64 // seqs, for 200
		wantMore bool
		wantErr  string // exact error text, for other statuses
	}{
		{"everything", "GET", "/events", 200, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, false, ""},
		{"by identifier", "GET", "/events?identifier=example.com", 200, []uint64{2, 3, 4, 5, 6, 8}, false, ""},
		{"by wildcard identifier", "GET", "/events?identifier=%2A.example.com", 200, []uint64{2, 3, 4, 5, 6, 8}, false, ""},
		{"by account", "GET", "/events?account=2", 200, []uint64{6, 7}, false, ""},
		{"by order", "GET", "/events?order=11", 200, []uint64{3, 4, 5}, false, ""},
		{"by kinds, comma-separated", "GET", "/events?kind=validation-failed,rate-limited", 200, []uint64{5, 6}, false, ""},
		{"by kinds, repeated", "GET", "/events?kind=validation-failed&kind=rate-limited", 200, []uint64{5, 6}, false, ""},
		{"combined", "GET", "/events?identifier=example.com&account=1&kind=order-created", 200, []uint64{2, 3}, false, ""},
		{"limit keeps the newest and says more", "GET", "/events?account=1&limit=2", 200, []uint64{5, 8}, true, ""},
		{"limit exactly the matches", "GET", "/events?order=11&limit=3", 200, []uint64{3, 4, 5}, false, ""},
		{"since pages forward and says more", "GET", "/events?since=2&limit=2", 200, []uint64{3, 4}, true, ""},
		{"last page", "GET", "/events?since=6&limit=2", 200, []uint64{7, 8}, false, ""},
		{"no match is an empty list", "GET", "/events?account=42", 200, []uint64{}, false, ""},
		{"HEAD", "HEAD", "/events", 200, nil, false, ""},

		{"account not a number", "GET", "/events?account=abc", 400, nil, false, "account: must be a positive integer"},
		{"account zero", "GET", "/events?account=0", 400, nil, false, "account: must be a positive integer"},
		{"account empty", "GET", "/events?account=", 400, nil, false, "account: must be a positive integer"},
		{"order negative", "GET", "/events?order=-1", 400, nil, false, "order: must be a positive integer"},
		{"since not a number", "GET", "/events?since=yesterday", 400, nil, false, "since: must be a non-negative integer (the seq of an event)"},
		{"limit zero", "GET", "/events?limit=0", 400, nil, false, "limit: must be an integer from 1 to 100"},
		{"limit above capacity", "GET", "/events?limit=101", 400, nil, false, "limit: must be an integer from 1 to 100"},
		{"identifier empty", "GET", "/events?identifier=", 400, nil, false, "identifier: must be a DNS name or IP address of 1 to 512 characters"},
		{"identifier too long", "GET", "/events?identifier=" + strings.Repeat("a", 513), 400, nil, false, "identifier: must be a DNS name or IP address of 1 to 512 characters"},
		{"unknown kind", "GET", "/events?kind=order-created,order_failed", 400, nil, false, `kind: unknown kind "order_failed" (want one of ` + kindList() + ")"},
		{"repeated account", "GET", "/events?account=1&account=2", 400, nil, false, "account: give it at most once"},
		{"typo in a parameter", "GET", "/events?identifer=example.com", 400, nil, false, `unknown query parameter "identifer" (want identifier, account, order, kind, since or limit)`},
		{"first bad parameter in name order", "GET", "/events?order=x&account=y", 400, nil, false, "account: must be a positive integer"},
		{"POST", "POST", "/events", 405, nil, false, "method not allowed: use GET"},
		{"other path", "GET", "/events/stream", 404, nil, false, "not found: the events API is GET /events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			j.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.method == "HEAD" {
				return
			}
			if tt.status != http.StatusOK {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("error body is not JSON: %v: %s", err, rec.Body)
				}
				if body["error"] != tt.wantErr || len(body) != 1 {
					t.Errorf("error %q, want %q", body["error"], tt.wantErr)
				}
				return
			}
			var body struct {
				Events []Event `json:"events"`
				More   *bool   `json:"more"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if body.Events == nil || body.More == nil {
				t.Fatalf(`"events" and "more" must always be present: %s`, rec.Body)
			}
			if got := seqs(body.Events); !slices.Equal(got, tt.want) {
				t.Errorf("seqs %v, want %v", got, tt.want)
			}
			if *body.More != tt.wantMore {
				t.Errorf("more %v, want %v", *body.More, tt.wantMore)
			}
		})
	}
}

func TestHandler405Allow(t *testing.T) {
	j := fixture(t)
	rec := httptest.NewRecorder()
	j.Handler().ServeHTTP(rec, httptest.NewRequest("DELETE", "/events", nil))
	if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
}

// TestHandlerJSONShape pins the wire form of one event: camelCase names,
// empty fields left out.
func TestHandlerJSONShape(t *testing.T) {
	j := fixture(t)
	rec := httptest.NewRecorder()
	j.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/events?kind=validation-failed", nil))
	var got struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Events) != 1 {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	want := map[string]any{
		"seq": 5.0, "time": "2026-03-01T12:00:00Z", "kind": "validation-failed", "account": 1.0, "order": 11.0,
		"authz": 100.0, "identifiers": []any{map[string]any{"type": "dns", "value": "example.com"}},
		"challenge": "dns-01",
		"problem": map[string]any{"type": "urn:ietf:params:acme:error:dns",
			"detail": "No TXT record found at _acme-challenge.example.com", "status": 400.0},
	}
	gotJSON, _ := json.Marshal(got.Events[0])
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("got  %s\nwant %s", gotJSON, wantJSON)
	}
}
