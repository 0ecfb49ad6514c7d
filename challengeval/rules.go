package challengeval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// DelayRange is a validation delay drawn uniformly from [Min, Max]. The zero
// value means no delay. Max zero with Min set means exactly Min. Plain data.
type DelayRange struct {
	// Min is the shortest delay. Default 0.
	Min time.Duration `json:"min,omitempty" yaml:"min,omitempty"`
	// Max is the longest delay. Default Min.
	Max time.Duration `json:"max,omitempty" yaml:"max,omitempty"`
}

// check reports invalid fields of d at path.
func (d DelayRange) check(path string, bad reporter) {
	if d.Min < 0 {
		bad(path+".min", "must not be negative, got %s", d.Min)
	}
	if d.Max < 0 {
		bad(path+".max", "must not be negative, got %s", d.Max)
	}
	if d.Min >= 0 && d.Max > 0 && d.Max < d.Min {
		bad(path+".max", "must not be less than min (%s), got %s", d.Min, d.Max)
	}
}

// pick draws a delay from the range.
func (d DelayRange) pick() time.Duration {
	if d.Max <= d.Min {
		return d.Min
	}
	return d.Min + rand.N(d.Max-d.Min+1)
}

// Rule overrides Config.AlwaysValid and Config.Delay for identifiers that
// match Pattern: an exact name ("a.example"), "*.suffix" (any name at any
// depth below suffix, not suffix itself) or an IP address literal. Patterns
// are matched against the identifier without a wildcard's "*." (the
// authorization's name). Among matching rules an exact pattern wins over a
// wildcard and a longer suffix over a shorter one; a nil field falls back to
// the Config value. The zero value is invalid (no pattern). Plain data.
type Rule struct {
	Pattern string `json:"pattern" yaml:"pattern"`
	// AlwaysValid, when set, replaces Config.AlwaysValid for the identifier.
	AlwaysValid *bool `json:"alwaysValid,omitempty" yaml:"alwaysValid,omitempty"`
	// Delay, when set, replaces Config.Delay for the identifier.
	Delay *DelayRange `json:"delay,omitempty" yaml:"delay,omitempty"`
}

// check reports invalid fields of r at path.
func (r Rule) check(path string, bad reporter) {
	if !isIPPattern(r.Pattern) {
		if err := checkPattern(r.Pattern); err != nil {
			bad(path+".pattern", "%v", err)
		}
	}
	if r.AlwaysValid == nil && r.Delay == nil {
		bad(path, "must set alwaysValid or delay")
	}
	if r.Delay != nil {
		r.Delay.check(path+".delay", bad)
	}
}

// behaviour is what a Validator does for one identifier before and instead
// of validating.
type behaviour struct {
	alwaysValid bool
	delay       DelayRange
}

// rules is the compiled form of Config.Rules plus the global defaults.
// Read-only after construction, so safe for concurrent use.
type rules struct {
	def behaviour
	m   matcher[Rule]
}

func compileRules(cfg Config) rules {
	patterns := make([]string, len(cfg.Rules))
	for i, r := range cfg.Rules {
		patterns[i] = canonicalIP(r.Pattern)
	}
	return rules{def: behaviour{alwaysValid: cfg.AlwaysValid, delay: cfg.Delay}, m: newMatcher(patterns, cfg.Rules)}
}

// forIdentifier returns the behaviour for id.
func (r rules) forIdentifier(id acme.Identifier) behaviour {
	b := r.def
	rule, ok := r.m.lookup(canonicalIP(id.Base().Value))
	if !ok {
		return b
	}
	if rule.AlwaysValid != nil {
		b.alwaysValid = *rule.AlwaysValid
	}
	if rule.Delay != nil {
		b.delay = *rule.Delay
	}
	return b
}

// canonicalIP returns an IP literal in its canonical form and anything else
// as is, so "::1" and "0:0::1" match the same rule.
func canonicalIP(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return s
}

// wait blocks for d on the Validator's clock, or until ctx ends.
func (v *Validator) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := v.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("validation delay of %s: %w", d, ctx.Err())
	}
}
