package faults

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// configPath is the YAML path of Config in fakeca's configuration file;
// every Validate message starts with it.
const configPath = "faults"

// maxNameLen bounds Rule.Name.
const maxNameLen = 64

// Config is the faults section of the configuration file. The zero value
// is valid and injects nothing, as Let's Encrypt does. Plain data; New
// copies what it needs.
type Config struct {
	// Rules are tried in order for each request; the first that fires
	// wins. Default: none. Rules can also be added and removed at run time
	// through the management API.
	Rules []Rule `yaml:"rules,omitempty"`
}

// Validate reports every invalid field, one per line, each starting with
// its YAML path (e.g. "faults.rules[2].match.probability: must be between
// 0 and 1, got 1.5").
func (c Config) Validate() error {
	_, err := c.compile(time.Time{})
	return err
}

// compile validates c and builds its rules; relative windows start at
// start.
func (c Config) compile(start time.Time) ([]*rule, error) {
	var errs []error
	names := map[string]int{}
	out := make([]*rule, 0, len(c.Rules))
	for i, r := range c.Rules {
		p := fmt.Sprintf("%s.rules[%d]", configPath, i)
		cr, err := compileRule(r, p, start)
		if err != nil {
			errs = append(errs, err)
		}
		if prev, dup := names[r.Name]; dup && r.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: %q is already the name of %s.rules[%d]", p, r.Name, configPath, prev))
		} else {
			names[r.Name] = i
		}
		out = append(out, cr)
	}
	return out, errors.Join(errs...)
}

// checker collects the problems of one rule, each prefixed with the rule's
// YAML path.
type checker struct {
	path string
	errs []error
}

func (c *checker) bad(field, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s.%s: %s", c.path, field, fmt.Sprintf(format, args...)))
}

// compileRule validates r and builds its run-time form. The error lists
// every problem, one per line.
func compileRule(r Rule, p string, start time.Time) (*rule, error) {
	c := &checker{path: p}
	checkName(c, r.Name)
	cr := &rule{src: r.clone(), added: start}
	compileMatch(c, r.Match, cr, start)
	compileAction(c, r, cr)
	if r.Match.Seed != 0 && r.Match.Probability == 0 && r.Action.Jitter == 0 {
		c.bad("match.seed", "is only used with probability or action.jitter")
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	if cr.prob > 0 || cr.action.Jitter > 0 {
		cr.rng = rand.New(rand.NewPCG(r.Match.Seed, r.Match.Seed^0x9e3779b97f4a7c15))
	}
	return cr, nil
}

func checkName(c *checker, name string) {
	if name == "" {
		c.bad("name", "must be set")
		return
	}
	ok := len(name) <= maxNameLen
	for i, ch := range name {
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		if !alnum && (i == 0 || ch != '.' && ch != '_' && ch != '-') {
			ok = false
		}
	}
	if !ok {
		c.bad("name", "%q must be 1–%d letters, digits, '.', '_' or '-', starting with a letter or digit", name, maxNameLen)
	}
}

// compileMatch checks m and fills the filter fields of cr.
func compileMatch(c *checker, m Match, cr *rule, start time.Time) {
	addOp := func(field string, o Operation) {
		if o.index() < 0 {
			c.bad(field, "unknown operation %q (want one of %s)", o, joinOps(operationNames()))
		}
		cr.ops |= o.bit()
	}
	if m.Operation != "" {
		addOp("match.operation", m.Operation)
	}
	for i, o := range m.Operations {
		addOp(fmt.Sprintf("match.operations[%d]", i), o)
	}
	cr.listed = cr.ops != 0
	if m.Method != "" {
		cr.method = strings.ToUpper(m.Method)
		if !validMethod(cr.method) {
			c.bad("match.method", "%q is not GET, HEAD or POST", m.Method)
		}
	}
	if m.Identifier != "" {
		g, err := newGlob(m.Identifier)
		if err != nil {
			c.bad("match.identifier", "%q is not a valid glob: %v", m.Identifier, err)
		}
		cr.glob, cr.hasGlob = g, true
	}
	if m.Account < 0 {
		c.bad("match.account", "must be > 0, got %d", m.Account)
	}
	cr.account, cr.profile = m.Account, m.Profile
	cr.detail = cr.hasGlob || cr.account != 0 || cr.profile != ""
	compileCounts(c, m, cr)
	if m.Window != nil {
		compileWindow(c, *m.Window, cr, start)
	}
}

func compileCounts(c *checker, m Match, cr *rule) {
	for _, f := range []struct {
		name string
		v    int64
	}{{"nth", m.Nth}, {"every", m.Every}, {"max", m.Max}} {
		if f.v < 0 {
			c.bad("match."+f.name, "must not be negative, got %d", f.v)
		}
	}
	if m.Nth > 0 && m.Every > 0 {
		c.bad("match.every", "cannot be combined with nth")
	}
	if math.IsNaN(m.Probability) || m.Probability < 0 || m.Probability > 1 {
		c.bad("match.probability", "must be between 0 and 1, got %v", m.Probability)
	}
	cr.nth, cr.every, cr.max, cr.prob = m.Nth, m.Every, m.Max, m.Probability
	if cr.prob >= 1 {
		cr.prob = 0 // certain: no draw
	}
}

func compileWindow(c *checker, w Window, cr *rule, start time.Time) {
	abs := !w.From.IsZero() || !w.To.IsZero()
	rel := w.After != 0 || w.For != 0
	switch {
	case abs && rel:
		c.bad("match.window", "use either from/to or after/for, not both")
		return
	case !abs && !rel:
		c.bad("match.window", "must set from, to, after or for")
		return
	case w.After < 0:
		c.bad("match.window.after", "must not be negative, got %s", w.After)
	case w.For < 0:
		c.bad("match.window.for", "must not be negative, got %s", w.For)
	case abs && !w.From.IsZero() && !w.To.IsZero() && !w.To.After(w.From):
		c.bad("match.window.to", "%s is not after from (%s)", w.To.Format(time.RFC3339), w.From.Format(time.RFC3339))
	}
	cr.windowed = true
	cr.from, cr.to = w.From, w.To
	if rel {
		cr.from = start.Add(w.After)
		if w.For > 0 {
			cr.to = cr.from.Add(w.For)
		}
	}
}
