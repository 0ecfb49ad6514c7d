package challengeval

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// HostOverride points names matching Pattern at fixed addresses, bypassing
// DNS for A/AAAA look-ups. Pattern is an exact name ("a.example") or
// "*.suffix", which matches any name at any depth below suffix ("*.test"
// matches "a.test" and "a.b.test" but not "test"). Matching ignores case and
// a trailing dot. The zero value is invalid; build one with ParseHostOverride
// or a literal checked by Config.Validate. Values are plain data.
type HostOverride struct {
	Pattern string       `json:"pattern" yaml:"pattern"`
	Addrs   []netip.Addr `json:"addrs" yaml:"addrs"`
}

// ParseHostOverride parses "pattern=addr[,addr...]", e.g. "*.test=127.0.0.1"
// or "a.example=127.0.0.1,::1" (the flag and environment form). Errors quote
// the input and name the bad part.
func ParseHostOverride(s string) (HostOverride, error) {
	fail := func(format string, args ...any) (HostOverride, error) {
		return HostOverride{}, fmt.Errorf("host override %q: %s", s, fmt.Sprintf(format, args...))
	}
	pattern, list, ok := strings.Cut(s, "=")
	if !ok {
		return fail(`missing "=" (want pattern=addr[,addr...])`)
	}
	o := HostOverride{Pattern: strings.TrimSpace(pattern)}
	if err := checkPattern(o.Pattern); err != nil {
		return fail("pattern: %v", err)
	}
	if strings.TrimSpace(list) == "" {
		return fail("no addresses after %q", "=")
	}
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return fail("bad address %q", a)
		}
		if addr.Zone() != "" {
			return fail("address %q must not have a zone", a)
		}
		o.Addrs = append(o.Addrs, addr)
	}
	return o, nil
}

// String renders the override in the form ParseHostOverride reads.
func (o HostOverride) String() string {
	addrs := make([]string, len(o.Addrs))
	for i, a := range o.Addrs {
		addrs[i] = a.String()
	}
	return o.Pattern + "=" + strings.Join(addrs, ",")
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (o HostOverride) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseHostOverride,
// so flags and string-valued config entries can use "pattern=addr,addr".
func (o *HostOverride) UnmarshalText(b []byte) error {
	p, err := ParseHostOverride(string(b))
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// fieldProblem is one Validate finding inside a HostOverride.
type fieldProblem struct{ path, msg string }

// problems lists what is wrong with o, with paths relative to o.
func (o HostOverride) problems() []fieldProblem {
	var out []fieldProblem
	if err := checkPattern(o.Pattern); err != nil {
		out = append(out, fieldProblem{".pattern", err.Error()})
	}
	if len(o.Addrs) == 0 {
		out = append(out, fieldProblem{".addrs", "must list at least one address"})
	}
	for i, a := range o.Addrs {
		switch {
		case !a.IsValid():
			out = append(out, fieldProblem{fmt.Sprintf(".addrs[%d]", i), "is not an IP address"})
		case a.Zone() != "":
			out = append(out, fieldProblem{fmt.Sprintf(".addrs[%d]", i), "must not have a zone"})
		}
	}
	return out
}

// overrides is the compiled form of Config.HostOverrides. Read-only after
// construction, so safe for concurrent use.
type overrides struct{ m matcher[[]netip.Addr] }

func compileOverrides(list []HostOverride) overrides {
	patterns := make([]string, len(list))
	addrs := make([][]netip.Addr, len(list))
	for i, h := range list {
		patterns[i], addrs[i] = h.Pattern, h.Addrs
	}
	return overrides{newMatcher(patterns, addrs)}
}

// lookup returns a copy of the addresses for name, if any pattern matches.
func (o overrides) lookup(name string) ([]netip.Addr, bool) {
	a, ok := o.m.lookup(name)
	return slices.Clone(a), ok
}
