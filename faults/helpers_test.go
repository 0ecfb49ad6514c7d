package faults

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newEngine builds an engine over rules with a fake clock at t0.
func newEngine(t testing.TB, rules ...Rule) (*Engine, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	e, err := New(Config{Rules: rules}, Deps{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return e, clk
}

// recorder collects OnFire calls.
type recorder struct {
	mu    sync.Mutex
	names []string
	reqs  []Request
}

func (r *recorder) onFire(rule Rule, req Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, rule.Name)
	r.reqs = append(r.reqs, req)
}

// last returns the name of the rule that fired last.
func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.names) == 0 {
		return ""
	}
	return r.names[len(r.names)-1]
}

// newRecorded is newEngine with OnFire recorded.
func newRecorded(t testing.TB, rules ...Rule) (*Engine, *clocktesting.FakeClock, *recorder) {
	t.Helper()
	clk := clocktesting.NewFakeClock(t0)
	rec := &recorder{}
	e, err := New(Config{Rules: rules}, Deps{Clock: clk, OnFire: rec.onFire})
	if err != nil {
		t.Fatal(err)
	}
	return e, clk, rec
}

// dns returns DNS identifiers.
func dns(names ...string) []acme.Identifier {
	out := make([]acme.Identifier, len(names))
	for i, n := range names {
		out[i] = acme.Identifier{Type: acme.TypeDNS, Value: n}
	}
	return out
}

// problem500 is a serverInternal problem action.
func problem500() Action {
	return Action{Problem: &Problem{Type: acme.ServerInternal, Detail: "down"}}
}

// lines splits a joined error into its lines (nil for nil).
func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// opOf is the test servers' route → operation mapping: the path's first
// segment.
func opOf(r *http.Request) Operation {
	op := Operation(strings.Trim(r.URL.Path, "/"))
	if op.index() < 0 {
		return ""
	}
	return op
}
