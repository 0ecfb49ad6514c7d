package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxBodyBytes caps a management request body.
const maxBodyBytes = 64 << 10

// Handler serves the management API; mount it on the management listener
// for /faults and /faults/ (it expects the paths unstripped). Rules are
// shown and taken in the configuration file's shape, as JSON; errors are
// {"error": "<text>"} with status 400, 404, 409 or 500.
//
//	GET    /faults          200 {"rules": [{"name": …, "match": {…}, "action": {…},
//	                        "hits": 3, "seen": 10, "added": "2026-…Z"}…]}
//	POST   /faults          a rule, e.g. {"name": "flaky", "match": {"operation":
//	                        "new-order", "probability": 0.3, "seed": 42}, "action":
//	                        {"problem": {"type": "serverInternal"}, "retryAfter": "30s"}};
//	                        durations are strings ("30s"), times RFC 3339; YAML is
//	                        accepted too. Unknown keys are errors. 201 with the rule
//	                        as GET shows it; 400 {"error": "faults.rules[3].match…"};
//	                        409 if the name is taken.
//	DELETE /faults/{name}   200 {"deleted": 1}; 404 if there is no such rule.
//	DELETE /faults          removes every rule. 200 {"deleted": <n>}
//
// A change takes effect for the next request. Safe for concurrent use.
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", e.serveList)
	mux.HandleFunc("POST /faults", e.serveAdd)
	mux.HandleFunc("DELETE /faults", e.serveClear)
	mux.HandleFunc("DELETE /faults/{name}", e.serveDelete)
	return mux
}

func (e *Engine) serveList(w http.ResponseWriter, _ *http.Request) {
	list := e.List()
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		v, err := statusJSON(s)
		if err != nil {
			writeMgmtError(w, http.StatusInternalServerError, err)
			return
		}
		out = append(out, v)
	}
	writeMgmtJSON(w, http.StatusOK, map[string]any{"rules": out})
}

func (e *Engine) serveAdd(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeMgmtError(w, http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return
	}
	var rule Rule
	dec := yaml.NewDecoder(bytes.NewReader(body))
	dec.KnownFields(true)
	if err := dec.Decode(&rule); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body: want a rule {name, match, action}")
		}
		writeMgmtError(w, http.StatusBadRequest, fmt.Errorf("decoding rule: %w", err))
		return
	}
	if err := e.Add(rule); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrExists) {
			status = http.StatusConflict
		}
		writeMgmtError(w, status, err)
		return
	}
	for _, s := range e.List() {
		if s.Name == rule.Name {
			v, err := statusJSON(s)
			if err != nil {
				writeMgmtError(w, http.StatusInternalServerError, err)
				return
			}
			writeMgmtJSON(w, http.StatusCreated, v)
			return
		}
	}
	writeMgmtJSON(w, http.StatusCreated, map[string]any{"name": rule.Name}) // deleted meanwhile
}

func (e *Engine) serveDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !e.Delete(name) {
		writeMgmtError(w, http.StatusNotFound, fmt.Errorf("no rule named %q", name))
		return
	}
	writeMgmtJSON(w, http.StatusOK, map[string]int{"deleted": 1})
}

func (e *Engine) serveClear(w http.ResponseWriter, _ *http.Request) {
	writeMgmtJSON(w, http.StatusOK, map[string]int{"deleted": e.Clear()})
}

// statusJSON renders s in the configuration file's shape (through YAML, so
// durations read "30s" as in the file) plus its counters.
func statusJSON(s RuleStatus) (map[string]any, error) {
	y, err := yaml.Marshal(s.Rule)
	if err != nil {
		return nil, fmt.Errorf("encoding rule %q: %w", s.Name, err)
	}
	v := map[string]any{}
	if err := yaml.Unmarshal(y, &v); err != nil {
		return nil, fmt.Errorf("encoding rule %q: %w", s.Name, err)
	}
	v["hits"], v["seen"], v["added"] = s.Hits, s.Seen, s.Added.UTC().Format(time.RFC3339Nano)
	return v, nil
}

func writeMgmtJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error": "encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeMgmtError(w http.ResponseWriter, status int, err error) {
	writeMgmtJSON(w, status, map[string]string{"error": err.Error()})
}
