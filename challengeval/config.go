package challengeval

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultHTTP01Port    = 80
	DefaultTLSALPN01Port = 443
	DefaultLookupTimeout = 10 * time.Second
	DefaultHTTPTimeout   = 10 * time.Second
)

// configPath is the YAML path of Config inside fakeca's configuration file;
// every Validate message starts with it.
const configPath = "validation"

// Config configures a Validator. The zero value is valid: it validates on
// the standard ports with the resolvers from /etc/resolv.conf, exactly as
// Let's Encrypt does (apart from the differences listed in the package doc).
// A Config is plain data; New copies what it needs.
type Config struct {
	// HTTP01Port is the port http-01 connects to for the first request.
	// Default 80, as Let's Encrypt. Change it to run a test responder on an
	// unprivileged port.
	HTTP01Port int `json:"http01Port,omitempty" yaml:"http01Port,omitempty"`

	// TLSALPN01Port is the port tls-alpn-01 connects to. Default 443, as
	// Let's Encrypt.
	TLSALPN01Port int `json:"tlsAlpn01Port,omitempty" yaml:"tlsAlpn01Port,omitempty"`

	// Resolvers are "host:port" DNS servers asked with recursion desired, in
	// order, over UDP with a TCP retry on truncation. Empty means the
	// nameservers of /etc/resolv.conf; New fails if that cannot be read
	// (unless AlwaysValid is set). Let's Encrypt uses its own recursive
	// resolvers (Unbound).
	Resolvers []string `json:"resolvers,omitempty" yaml:"resolvers,omitempty"`

	// HostOverrides is a static host map consulted before DNS for A/AAAA
	// look-ups (never for TXT). Exact patterns win over wildcards and a longer
	// wildcard suffix wins over a shorter one. Default: none. Let's Encrypt
	// has no equivalent; use it to point test names at local responders.
	HostOverrides []HostOverride `json:"hostOverrides,omitempty" yaml:"hostOverrides,omitempty"`

	// AlwaysValid accepts every challenge without contacting anything, like
	// Pebble's PEBBLE_VA_ALWAYS_VALID. Default false. Never what Let's Encrypt
	// does: use it only when validation itself is not under test.
	AlwaysValid bool `json:"alwaysValid,omitempty" yaml:"alwaysValid,omitempty"`

	// LookupTimeout bounds each DNS query (per resolver, per transport).
	// Default 10s.
	LookupTimeout time.Duration `json:"lookupTimeout,omitempty" yaml:"lookupTimeout,omitempty"`

	// HTTPTimeout bounds one whole http-01 attempt (all redirects and the
	// IPv4 fallback) or tls-alpn-01 attempt, from the first connection.
	// Default 10s, about Boulder's singleDialTimeout.
	HTTPTimeout time.Duration `json:"httpTimeout,omitempty" yaml:"httpTimeout,omitempty"`

	// RedirectPortMap maps the port an http-01 redirect targets (only 80 and
	// 443 are allowed, as at Let's Encrypt) to the port actually dialed, e.g.
	// {80: 5002, 443: 5001} for tests. The policy checks and error texts use
	// the port from the redirect; only the dial is remapped. Empty: dial the
	// port as is. HTTP01Port, not this map, applies to the first request.
	RedirectPortMap map[int]int `json:"redirectPortMap,omitempty" yaml:"redirectPortMap,omitempty"`
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.HTTP01Port == 0 {
		c.HTTP01Port = DefaultHTTP01Port
	}
	if c.TLSALPN01Port == 0 {
		c.TLSALPN01Port = DefaultTLSALPN01Port
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = DefaultLookupTimeout
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	return c
}

// Validate reports every invalid field, one per line, each starting with its
// YAML path (e.g. "validation.http01Port: must be 1-65535, got 70000").
// Zero values are valid and mean "default".
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", configPath, path, fmt.Sprintf(format, args...)))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"http01Port", c.HTTP01Port}, {"tlsAlpn01Port", c.TLSALPN01Port}} {
		if p.port < 0 || p.port > 65535 {
			bad(p.name, "must be 1-65535, got %d", p.port)
		}
	}
	for i, r := range c.Resolvers {
		if err := checkHostPort(r); err != nil {
			bad(fmt.Sprintf("resolvers[%d]", i), "%v", err)
		}
	}
	for i, o := range c.HostOverrides {
		for _, err := range o.problems() {
			bad(fmt.Sprintf("hostOverrides[%d]%s", i, err.path), "%s", err.msg)
		}
	}
	if c.LookupTimeout < 0 {
		bad("lookupTimeout", "must not be negative, got %s", c.LookupTimeout)
	}
	if c.HTTPTimeout < 0 {
		bad("httpTimeout", "must not be negative, got %s", c.HTTPTimeout)
	}
	keys := make([]int, 0, len(c.RedirectPortMap))
	for k := range c.RedirectPortMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, from := range keys {
		to := c.RedirectPortMap[from]
		path := fmt.Sprintf("redirectPortMap[%d]", from)
		if from != 80 && from != 443 {
			bad(path, "only ports 80 and 443 can be redirect targets, so only they can be mapped")
		}
		if to < 1 || to > 65535 {
			bad(path, "must map to 1-65535, got %d", to)
		}
	}
	return errors.Join(errs...)
}

// checkHostPort checks a "host:port" resolver address.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has an empty host", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be 1-65535", s)
	}
	return nil
}

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

// checkPattern accepts an exact DNS name or "*." followed by one.
func checkPattern(p string) error {
	name := normalizeName(p)
	if name == "" {
		return errors.New("must not be empty")
	}
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name = rest
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: a wildcard is only allowed as the whole first label (\"*.suffix\")", p)
	}
	if len(name) > 253 {
		return fmt.Errorf("%q is longer than 253 bytes", p)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q has an empty label or one longer than 63 bytes", p)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("%q contains %q; only letters, digits, '-' and '_' are allowed", p, r)
			}
		}
	}
	return nil
}

// normalizeName lower-cases a DNS name and drops one trailing dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// overrides is the compiled form of Config.HostOverrides. Read-only after
// construction, so safe for concurrent use.
type overrides struct {
	exact     map[string][]netip.Addr
	wildcards []wildcard // longest suffix first
}

type wildcard struct {
	suffix string // ".test" for "*.test"
	addrs  []netip.Addr
}

func compileOverrides(list []HostOverride) overrides {
	o := overrides{exact: map[string][]netip.Addr{}}
	for _, h := range list {
		name := normalizeName(h.Pattern)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			o.wildcards = append(o.wildcards, wildcard{suffix: "." + rest, addrs: h.Addrs})
			continue
		}
		if _, dup := o.exact[name]; !dup {
			o.exact[name] = h.Addrs
		}
	}
	slices.SortStableFunc(o.wildcards, func(a, b wildcard) int { return len(b.suffix) - len(a.suffix) })
	return o
}

// lookup returns a copy of the addresses for name, if any pattern matches.
func (o overrides) lookup(name string) ([]netip.Addr, bool) {
	name = normalizeName(name)
	if a, ok := o.exact[name]; ok {
		return slices.Clone(a), true
	}
	for _, w := range o.wildcards {
		if strings.HasSuffix(name, w.suffix) && len(name) > len(w.suffix) {
			return slices.Clone(w.addrs), true
		}
	}
	return nil, false
}
