package faults

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// step is one Match call of a scenario: move the clock, then match req and
// expect the rule named want to fire ("" for none).
type step struct {
	advance time.Duration
	req     Request
	want    string
}

// repeat returns n steps of req, wanting the names in want ('x' = rule
// "r", '.' = none).
func repeat(req Request, pattern string) []step {
	out := make([]step, len(pattern))
	for i, c := range pattern {
		out[i] = step{req: req}
		if c == 'x' {
			out[i].want = "r"
		}
	}
	return out
}

func rule1(m Match) []Rule { return []Rule{{Name: "r", Match: m, Action: problem500()}} }

func TestMatchDimensions(t *testing.T) {
	newOrder := Request{Operation: OpNewOrder, Method: "POST", Identifiers: dns("a.flaky.test"), AccountID: 7, Profile: "classic"}
	with := func(f func(*Request)) Request { r := newOrder; f(&r); return r }
	tests := []struct {
		name  string
		rules []Rule
		steps []step
	}{
		{"no rules", nil, repeat(newOrder, "...")},
		{"every request by default", rule1(Match{}), repeat(newOrder, "xxx")},
		{"nth fires once, on the third", rule1(Match{Operation: OpNewOrder, Nth: 3}), repeat(newOrder, "..x...")},
		{"every second", rule1(Match{Operation: OpNewOrder, Every: 2}), repeat(newOrder, ".x.x.x")},
		{"max stops after two", rule1(Match{Max: 2}), repeat(newOrder, "xx...")},
		{"every and max", rule1(Match{Every: 2, Max: 2}), repeat(newOrder, ".x.x....")},
		{"operation", rule1(Match{Operation: OpFinalize}), []step{
			{req: newOrder}, {req: with(func(r *Request) { r.Operation = OpFinalize }), want: "r"}}},
		{"several operations merge", rule1(Match{Operation: OpOrder, Operations: []Operation{OpAuthz}}), []step{
			{req: newOrder}, {req: with(func(r *Request) { r.Operation = OpOrder }), want: "r"},
			{req: with(func(r *Request) { r.Operation = OpAuthz }), want: "r"}}},
		{"default leaves validation and issuance out", rule1(Match{}), []step{
			{req: Request{Operation: OpValidation}}, {req: Request{Operation: OpIssuance}},
			{req: Request{Operation: OpDirectory, Method: "GET"}, want: "r"}}},
		{"method", rule1(Match{Method: "get"}), []step{
			{req: newOrder}, {req: with(func(r *Request) { r.Method = "GET" }), want: "r"}}},
		{"identifier glob, any identifier, any case", rule1(Match{Identifier: "*.Flaky.test"}), []step{
			{req: newOrder, want: "r"},
			{req: with(func(r *Request) { r.Identifiers = dns("ok.test", "B.FLAKY.TEST") }), want: "r"},
			{req: with(func(r *Request) { r.Identifiers = dns("*.flaky.test") }), want: "r"},
			{req: with(func(r *Request) { r.Identifiers = dns("flaky.test") })},
			{req: with(func(r *Request) { r.Identifiers = nil })}}},
		{"account", rule1(Match{Account: 7}), []step{
			{req: newOrder, want: "r"}, {req: with(func(r *Request) { r.AccountID = 8 })},
			{req: with(func(r *Request) { r.AccountID = 0 })}}},
		{"profile", rule1(Match{Profile: "shortlived"}), []step{
			{req: newOrder}, {req: with(func(r *Request) { r.Profile = "shortlived" }), want: "r"}}},
		{"nth counts only requests that pass the filters", rule1(Match{Account: 7, Nth: 2}), []step{
			{req: with(func(r *Request) { r.AccountID = 8 })}, {req: newOrder},
			{req: with(func(r *Request) { r.AccountID = 8 })}, {req: newOrder, want: "r"}, {req: newOrder}}},
		{"absolute window", rule1(Match{Window: &Window{From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)}}), []step{
			{req: newOrder}, {advance: time.Hour, req: newOrder, want: "r"},
			{advance: time.Hour - time.Nanosecond, req: newOrder, want: "r"}, {advance: time.Nanosecond, req: newOrder}}},
		{"open-ended window", rule1(Match{Window: &Window{From: t0.Add(time.Minute)}}), []step{
			{req: newOrder}, {advance: 24 * time.Hour, req: newOrder, want: "r"}}},
		{"relative window", rule1(Match{Window: &Window{After: 10 * time.Minute, For: 5 * time.Minute}}), []step{
			{req: newOrder}, {advance: 10 * time.Minute, req: newOrder, want: "r"},
			{advance: 5 * time.Minute, req: newOrder}}},
		{"first rule that fires wins; later counters stay", []Rule{
			{Name: "first", Match: Match{Nth: 2}, Action: problem500()},
			{Name: "second", Match: Match{Nth: 2}, Action: problem500()}}, []step{
			{req: newOrder}, {req: newOrder, want: "first"}, {req: newOrder, want: "second"}, {req: newOrder}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clk, rec := newRecorded(t, tt.rules...)
			for i, s := range tt.steps {
				clk.Step(s.advance)
				got := ""
				if _, ok := e.Match(s.req); ok {
					got = rec.last()
				}
				if got != s.want {
					t.Errorf("step %d: fired %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

// fireSequence matches n new-order requests and returns the firings as a
// string of 'x' and '.'.
func fireSequence(e *Engine, n int) string {
	var b strings.Builder
	for range n {
		if _, ok := e.Match(Request{Operation: OpNewOrder, Method: "POST"}); ok {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestMatchProbabilityIsDeterministic(t *testing.T) {
	rule := func(seed uint64) Rule {
		return Rule{Name: "p", Match: Match{Probability: 0.3, Seed: seed}, Action: problem500()}
	}
	e1, _ := newEngine(t, rule(42))
	e2, _ := newEngine(t, rule(42))
	e3, _ := newEngine(t, rule(43))
	a, b, c := fireSequence(e1, 2000), fireSequence(e2, 2000), fireSequence(e3, 2000)
	if a != b {
		t.Errorf("same seed, different sequences:\n%s\n%s", a[:80], b[:80])
	}
	if a == c {
		t.Error("different seeds gave the same sequence")
	}
	if n := strings.Count(a, "x"); n < 500 || n > 700 {
		t.Errorf("fired %d of 2000 at p=0.3", n)
	}
	// Probability 1 always fires; with max it stops.
	e4, _ := newEngine(t, Rule{Name: "p", Match: Match{Probability: 1, Max: 3}, Action: problem500()})
	if got := fireSequence(e4, 5); got != "xxx.." {
		t.Errorf("p=1 max=3: %s", got)
	}
}

func TestMatchJitter(t *testing.T) {
	e, _ := newEngine(t,
		Rule{Name: "va", Match: Match{Operation: OpValidation}, Action: Action{ValidationDelay: time.Second, Jitter: 5 * time.Second}},
		Rule{Name: "req", Match: Match{Operation: OpOrder}, Action: Action{Delay: time.Second, Jitter: time.Second}})
	var delays []time.Duration
	for range 50 {
		a, ok := e.Match(Request{Operation: OpValidation})
		if !ok || a.Jitter != 0 || a.Delay != 0 || a.ValidationDelay < time.Second || a.ValidationDelay >= 6*time.Second {
			t.Fatalf("validation: %v %+v", ok, a)
		}
		delays = append(delays, a.ValidationDelay)
		a, ok = e.Match(Request{Operation: OpOrder, Method: "POST"})
		if !ok || a.ValidationDelay != 0 || a.Delay < time.Second || a.Delay >= 2*time.Second {
			t.Fatalf("order: %v %+v", ok, a)
		}
	}
	if delays[0] == delays[1] && delays[1] == delays[2] {
		t.Errorf("jitter does not vary: %v", delays[:3])
	}
}

func TestMatchRecordsFiring(t *testing.T) {
	e, _, rec := newRecorded(t, Rule{Name: "r", Match: Match{Identifier: "*.x.test"}, Action: problem500()})
	req := Request{Operation: OpFinalize, Method: "POST", Identifiers: dns("a.x.test"), AccountID: 3, Profile: "classic"}
	if _, ok := e.Match(req); !ok {
		t.Fatal("did not fire")
	}
	if len(rec.reqs) != 1 || rec.reqs[0].AccountID != 3 || rec.names[0] != "r" {
		t.Errorf("OnFire got %v %+v", rec.names, rec.reqs)
	}
	if l := e.List(); len(l) != 1 || l[0].Hits != 1 || l[0].Seen != 1 || !l[0].Added.Equal(t0) {
		t.Errorf("List: %+v", l)
	}
}

func TestMatchActionDefaults(t *testing.T) {
	e, _ := newEngine(t, Rule{Name: "p", Action: Action{Problem: &Problem{Type: "urn:ietf:params:acme:error:rateLimited"},
		RetryAfter: 90 * time.Second}})
	a, ok := e.Match(Request{Operation: OpNewOrder, Method: "POST"})
	if !ok {
		t.Fatal("did not fire")
	}
	got := a.Error()
	want := &acme.Error{Type: acme.RateLimited, Detail: `Fault injected by fakeca rule "p"`, RetryAfter: 90 * time.Second}
	if !reflect.DeepEqual(got, want) || got.HTTPStatus() != 429 {
		t.Errorf("Error() = %+v, want %+v", got, want)
	}
}

func TestRunTimeChangesKeepCounters(t *testing.T) {
	e, clk := newEngine(t, Rule{Name: "a", Match: Match{Operation: OpNewOrder, Every: 2}, Action: problem500()})
	fireSequence(e, 3)
	clk.Step(time.Hour)
	if err := e.Add(Rule{Name: "b", Match: Match{Operation: OpFinalize, Window: &Window{For: time.Minute}}, Action: problem500()}); err != nil {
		t.Fatal(err)
	}
	if err := e.Add(Rule{Name: "a", Action: problem500()}); !errors.Is(err, ErrExists) ||
		err.Error() != `faults.rules[2].name: "a": a rule with this name already exists` {
		t.Errorf("duplicate: %v", err)
	}
	if got := fireSequence(e, 2); got != "x." {
		t.Errorf("rule a after Add: %s (counter reset?)", got)
	}
	fin := Request{Operation: OpFinalize, Method: "POST"}
	if _, ok := e.Match(fin); !ok {
		t.Error("b did not fire inside its window (relative to its Add)")
	}
	clk.Step(time.Minute)
	if _, ok := e.Match(fin); ok {
		t.Error("b fired after its window")
	}
	if !e.Delete("a") || e.Delete("a") {
		t.Error("Delete")
	}
	if l := e.List(); len(l) != 1 || l[0].Name != "b" || l[0].Hits != 1 || l[0].Seen != 1 || !l[0].Added.Equal(t0.Add(time.Hour)) {
		t.Errorf("List after Delete: %+v", l)
	}
	if n := e.Clear(); n != 1 || len(e.List()) != 0 {
		t.Errorf("Clear = %d, %v", n, e.List())
	}
	if _, ok := e.Match(fin); ok {
		t.Error("fired after Clear")
	}
}

// TestConcurrentMatch runs Match, Add and Delete together under -race and
// checks that nth and max hold exactly.
func TestConcurrentMatch(t *testing.T) {
	e, _ := newEngine(t,
		Rule{Name: "nth", Match: Match{Operation: OpNewOrder, Nth: 100}, Action: problem500()},
		Rule{Name: "max", Match: Match{Operation: OpOrder, Max: 50, Probability: 0.5, Seed: 1}, Action: problem500()})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 250 {
				e.Match(Request{Operation: OpNewOrder, Method: "POST"})
				e.Match(Request{Operation: OpOrder, Method: "POST"})
			}
		})
		wg.Go(func() {
			name := fmt.Sprintf("tmp%d", g)
			for range 20 {
				_ = e.Add(Rule{Name: name, Match: Match{Operation: OpAuthz}, Action: problem500()})
				e.List()
				e.Delete(name)
			}
		})
	}
	wg.Wait()
	for _, s := range e.List() {
		want := map[string]int64{"nth": 1, "max": 50}[s.Name]
		if s.Hits != want || s.Seen < 2000-50 && s.Name == "nth" {
			t.Errorf("%s: hits %d seen %d, want hits %d", s.Name, s.Hits, s.Seen, want)
		}
	}
}

func TestFiringIsLogged(t *testing.T) {
	var buf bytes.Buffer
	e, err := New(Config{Rules: []Rule{{Name: "flaky", Match: Match{Operation: OpNewOrder}, Action: problem500()}}},
		Deps{Clock: clocktesting.NewFakeClock(t0), Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))})
	if err != nil {
		t.Fatal(err)
	}
	e.Match(Request{Operation: OpNewOrder, Method: "POST", AccountID: 4, Identifiers: dns("a.test", "b.test")})
	const want = `level=INFO msg="fault fired" rule=flaky operation=new-order hits=1 method=POST account=4 identifier="[a.test b.test]"` + "\n"
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestListReturnsCopies(t *testing.T) {
	e, _ := newEngine(t, Rule{Name: "r", Match: Match{Operations: []Operation{OpOrder}, Window: &Window{For: time.Hour}},
		Action: Action{Problem: &Problem{Type: acme.ServerInternal}}})
	l := e.List()
	l[0].Match.Operations[0] = OpAuthz
	l[0].Match.Window.For = time.Second
	l[0].Action.Problem.Type = acme.DNS
	again := e.List()[0]
	if again.Match.Operations[0] != OpOrder || again.Match.Window.For != time.Hour || again.Action.Problem.Type != acme.ServerInternal {
		t.Errorf("List shares memory with the engine: %+v", again)
	}
	if _, ok := e.Match(Request{Operation: OpOrder, Method: "POST"}); !ok {
		t.Error("rule changed by List's caller")
	}
}
