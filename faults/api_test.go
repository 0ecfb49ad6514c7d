package faults

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// call sends one management request and decodes the JSON answer.
func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, rd))
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: %d, body %q is not JSON: %v", method, path, w.Code, w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return w.Code, v
}

func TestManagementAPI(t *testing.T) {
	e, _ := newEngine(t, Rule{Name: "from-config", Match: Match{Operation: OpOrder, Every: 2}, Action: problem500()})
	h := e.Handler()
	const flaky = `{"name": "flaky", "match": {"operation": "new-order", "identifier": "*.flaky.test", "probability": 0.5, "seed": 42, "max": 10},
		"action": {"problem": {"type": "serverInternal", "detail": "The service is down for maintenance", "status": 503}, "retryAfter": "30s"}}`
	code, v := call(t, h, "POST", "/faults", flaky)
	if code != http.StatusCreated || v["name"] != "flaky" || v["hits"] != 0.0 || v["action"].(map[string]any)["retryAfter"] != "30s" {
		t.Fatalf("POST: %d %v", code, v)
	}
	e.Match(Request{Operation: OpOrder, Method: "POST"})
	e.Match(Request{Operation: OpOrder, Method: "POST"})
	code, v = call(t, h, "GET", "/faults", "")
	rules, _ := v["rules"].([]any)
	if code != 200 || len(rules) != 2 {
		t.Fatalf("GET: %d %v", code, v)
	}
	first, second := rules[0].(map[string]any), rules[1].(map[string]any)
	if first["name"] != "from-config" || first["hits"] != 1.0 || first["seen"] != 2.0 || first["added"] != "2026-03-01T12:00:00Z" ||
		first["match"].(map[string]any)["operation"] != "order" {
		t.Errorf("first: %v", first)
	}
	m := second["match"].(map[string]any)
	if second["name"] != "flaky" || m["identifier"] != "*.flaky.test" || m["seed"] != 42.0 || m["probability"] != 0.5 {
		t.Errorf("second: %v", second)
	}

	errTests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"validation", "POST", "/faults", `{"name": "bad", "match": {"probability": 2}, "action": {"drop": true}}`, 400,
			"faults.rules[2].match.probability: must be between 0 and 1, got 2"},
		{"several problems", "POST", "/faults", `{"name": "bad", "match": {"nth": -1}, "action": {}}`, 400,
			"faults.rules[2].match.nth: must not be negative, got -1\nfaults.rules[2].action: must do something"},
		{"unknown key", "POST", "/faults", `{"name": "bad", "action": {"drop": true}, "extra": 1}`, 400,
			"decoding rule: yaml: unmarshal errors:\n  line 1: field extra not found in type faults.Rule"},
		{"bad JSON", "POST", "/faults", `{"name": "bad",`, 400, "decoding rule: yaml: line 1: did not find expected node content"},
		{"duration as a number", "POST", "/faults", `{"name": "bad", "action": {"delay": 5}}`, 400, "cannot unmarshal !!int `5` into time.Duration"},
		{"empty body", "POST", "/faults", ``, 400, "decoding rule: empty body: want a rule {name, match, action}"},
		{"duplicate", "POST", "/faults", flaky, 409, `faults.rules[2].name: "flaky": a rule with this name already exists`},
		{"delete unknown", "DELETE", "/faults/nope", "", 404, `no rule named "nope"`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			code, v := call(t, h, tt.method, tt.path, tt.body)
			if msg, _ := v["error"].(string); code != tt.code || !strings.Contains(msg, tt.want) {
				t.Errorf("%d %q, want %d %q", code, msg, tt.code, tt.want)
			}
		})
	}

	if code, v := call(t, h, "DELETE", "/faults/flaky", ""); code != 200 || v["deleted"] != 1.0 {
		t.Errorf("DELETE one: %d %v", code, v)
	}
	if l := e.List(); len(l) != 1 || l[0].Name != "from-config" {
		t.Errorf("after DELETE: %+v", l)
	}
	if code, v := call(t, h, "POST", "/faults", "name: yaml-too\naction: {drop: true}\n"); code != 201 || v["name"] != "yaml-too" {
		t.Errorf("YAML body: %d %v", code, v)
	}
	if code, v := call(t, h, "DELETE", "/faults", ""); code != 200 || v["deleted"] != 2.0 || len(e.List()) != 0 {
		t.Errorf("DELETE all: %d %v", code, v)
	}
	if code, v := call(t, h, "GET", "/faults", ""); code != 200 || len(v["rules"].([]any)) != 0 {
		t.Errorf("GET empty: %d %v", code, v)
	}
}

// TestManagementAPITakesEffect: a rule added over the API fires on the
// next request.
func TestManagementAPITakesEffect(t *testing.T) {
	h := newHarness(t, true)
	if got := h.do(t.Context(), "POST", "new-order", ""); got.status != 200 {
		t.Fatalf("before: %+v", got)
	}
	if code, v := call(t, h.e.Handler(), "POST", "/faults", `{"name": "x", "action": {"http": {"status": 503}}}`); code != 201 {
		t.Fatalf("POST: %d %v", code, v)
	}
	if got := h.do(t.Context(), "POST", "new-order", ""); got.status != 503 {
		t.Errorf("after: %+v", got)
	}
}
