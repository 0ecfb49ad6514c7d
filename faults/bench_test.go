package faults

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkMatch measures the hot path: no rules, and ten rules none of
// which matches. Both must be a few ns and allocation-free.
func BenchmarkMatch(b *testing.B) {
	req := Request{Operation: OpOrder, Method: "POST", Identifiers: dns("www.example.com"), AccountID: 1}
	var ten []Rule
	for i := range 10 {
		m := Match{Operation: OpNewOrder}
		switch i % 3 {
		case 1:
			m = Match{Operation: OpOrder, Identifier: fmt.Sprintf("*.n%d.test", i)}
		case 2:
			m = Match{Operation: OpOrder, Account: 99, Probability: 0.5}
		}
		ten = append(ten, Rule{Name: fmt.Sprintf("r%d", i), Match: m, Action: problem500()})
	}
	for _, bc := range []struct {
		name  string
		rules []Rule
	}{{"no rules", nil}, {"10 non-matching rules", ten}} {
		b.Run(bc.name, func(b *testing.B) {
			e, _ := newEngine(b, bc.rules...)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := e.Match(req); ok {
					b.Fatal("fired")
				}
			}
		})
	}
}

// BenchmarkMiddlewareNoRules measures what mounting Middleware costs when
// no rule is loaded.
func BenchmarkMiddlewareNoRules(b *testing.B) {
	e, _ := newEngine(b)
	h := e.Middleware(opOf, nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w, r := httptest.NewRecorder(), httptest.NewRequest("POST", "/new-order", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// TestMatchDoesNotAllocate pins the benchmark's promise.
func TestMatchDoesNotAllocate(t *testing.T) {
	e, _ := newEngine(t, Rule{Name: "a", Match: Match{Operation: OpNewOrder}, Action: problem500()},
		Rule{Name: "b", Match: Match{Identifier: "*.x.test", Account: 5}, Action: problem500()})
	req := Request{Operation: OpOrder, Method: "POST", Identifiers: dns("a.example.com"), AccountID: 5}
	if n := testing.AllocsPerRun(100, func() { e.Match(req) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}
