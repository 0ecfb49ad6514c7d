package faults

import (
	"fmt"
	"slices"
	"time"
)

// RuleStatus is a rule as List shows it: its definition and counters.
// Plain data.
type RuleStatus struct {
	Rule
	// Hits is how many times the rule has fired.
	Hits int64
	// Seen is how many requests passed its filters (what Nth and Every
	// count), fired or not.
	Seen int64
	// Added is when the rule was loaded (the engine's start for rules from
	// the configuration file).
	Added time.Time
}

// List returns every rule in evaluation order with its counters.
func (e *Engine) List() []RuleStatus {
	rs := e.rules.Load()
	out := make([]RuleStatus, len(rs.rules))
	for i, r := range rs.rules {
		out[i] = RuleStatus{Rule: r.src.clone(), Hits: r.hits.Load(), Seen: r.seen.Load(), Added: r.added}
	}
	return out
}

// Add validates nr and appends it after the existing rules, with fresh
// counters; relative windows start now. Errors start with the YAML path
// the rule would have ("faults.rules[3].match.nth: …"); a name in use
// gives an error wrapping ErrExists.
func (e *Engine) Add(nr Rule) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.rules.Load().rules
	p := fmt.Sprintf("%s.rules[%d]", configPath, len(cur))
	cr, err := compileRule(nr, p, e.clock.Now())
	if err != nil {
		return err
	}
	if slices.ContainsFunc(cur, func(r *rule) bool { return r.src.Name == nr.Name }) {
		return fmt.Errorf("%s.name: %q: %w", p, nr.Name, ErrExists)
	}
	e.rules.Store(newRuleSet(append(slices.Clip(cur), cr)))
	return nil
}

// Delete removes the rule called name and reports whether there was one.
func (e *Engine) Delete(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.rules.Load().rules
	i := slices.IndexFunc(cur, func(r *rule) bool { return r.src.Name == name })
	if i < 0 {
		return false
	}
	e.rules.Store(newRuleSet(slices.Delete(slices.Clone(cur), i, i+1)))
	return true
}

// Clear removes every rule and returns how many there were.
func (e *Engine) Clear() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.rules.Load().rules)
	e.rules.Store(newRuleSet(nil))
	return n
}

// clone returns a deep copy of r, so that callers cannot change the
// engine's copy through its pointers and slices.
func (r Rule) clone() Rule {
	r.Match.Operations = slices.Clone(r.Match.Operations)
	if w := r.Match.Window; w != nil {
		c := *w
		r.Match.Window = &c
	}
	if p := r.Action.Problem; p != nil {
		c := *p
		r.Action.Problem = &c
	}
	if h := r.Action.HTTP; h != nil {
		c := *h
		r.Action.HTTP = &c
	}
	return r
}
