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
	// DefaultCAAIdentity is Let's Encrypt's CAA issuer domain name, the one
	// its directory lists in meta.caaIdentities.
	DefaultCAAIdentity = "letsencrypt.org"
)

// configPath is the YAML path of Config inside fakeca's configuration file;
// every Validate message starts with it.
const configPath = "validation"

// Config configures a Validator. The zero value is valid: it validates on
// the standard ports with the resolvers from /etc/resolv.conf and checks CAA
// for letsencrypt.org, exactly as Let's Encrypt does (apart from the
// differences listed in the package doc). A Config is plain data; New copies
// what it needs.
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
	// (unless AlwaysValid is set or Forward lists a zone). Let's Encrypt uses
	// its own recursive resolvers (Unbound).
	Resolvers []string `json:"resolvers,omitempty" yaml:"resolvers,omitempty"`

	// Forward sends DNS questions for names at or below a zone only to that
	// zone's server instead of Resolvers; the longest matching zone wins.
	// Default: none. Point fakeca's own DNS server's zones here so that the
	// records added to it over RFC 2136 are what validation sees.
	Forward []Forward `json:"forward,omitempty" yaml:"forward,omitempty"`

	// HostOverrides is a static host map consulted before DNS for A/AAAA
	// look-ups (never for TXT or CAA). Exact patterns win over wildcards and
	// a longer wildcard suffix wins over a shorter one. Default: none. Let's
	// Encrypt has no equivalent; use it to point test names at local
	// responders.
	HostOverrides []HostOverride `json:"hostOverrides,omitempty" yaml:"hostOverrides,omitempty"`

	// AlwaysValid accepts every challenge without contacting anything (CAA
	// included), like Pebble's PEBBLE_VA_ALWAYS_VALID. Default false. Never
	// what Let's Encrypt does: use it only when validation itself is not
	// under test. Rules can set it per identifier.
	AlwaysValid bool `json:"alwaysValid,omitempty" yaml:"alwaysValid,omitempty"`

	// Delay makes every validation wait a random time in [Min, Max] on the
	// injected clock before it starts, to imitate a slow CA (Pebble sleeps
	// 0-4s). Default zero: no wait, as Let's Encrypt (which has no
	// deliberate delay). Rules can set it per identifier. Keep it well under
	// the CA's validation timeout.
	Delay DelayRange `json:"delay,omitzero" yaml:"delay,omitempty"`

	// Rules override AlwaysValid and Delay for identifiers matching a
	// pattern; the most specific pattern wins. Default: none.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`

	// CAAIdentities are the issuer domain names a CAA issue/issuewild record
	// must name to permit issuance, and the issuer-domain-names dns-persist-01
	// records may name. Default ["letsencrypt.org"], Let's Encrypt's; keep it
	// equal to the directory's meta.caaIdentities.
	CAAIdentities []string `json:"caaIdentities,omitempty" yaml:"caaIdentities,omitempty"`

	// SkipCAA turns CAA checking off. Default false: CAA is checked after
	// every successful validation of a DNS name (RFC 8659, with RFC 8657's
	// accounturi and validationmethods), as Let's Encrypt does.
	SkipCAA bool `json:"skipCAA,omitempty" yaml:"skipCAA,omitempty"`

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
	c.CAAIdentities = c.IssuerDomainNames()
	return c
}

// IssuerDomainNames returns CAAIdentities with the default applied and
// lower-cased: the list for the directory's meta.caaIdentities and for a
// dns-persist-01 challenge's issuer-domain-names. A new slice each call.
func (c Config) IssuerDomainNames() []string {
	if len(c.CAAIdentities) == 0 {
		return []string{DefaultCAAIdentity}
	}
	out := make([]string, len(c.CAAIdentities))
	for i, n := range c.CAAIdentities {
		out[i] = normalizeName(n)
	}
	return out
}

// reporter records one Validate finding at a path below configPath.
type reporter func(path, format string, args ...any)

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
	checkForwards(c.Forward, bad)
	for i, o := range c.HostOverrides {
		for _, err := range o.problems() {
			bad(fmt.Sprintf("hostOverrides[%d]%s", i, err.path), "%s", err.msg)
		}
	}
	c.Delay.check("delay", bad)
	for i, r := range c.Rules {
		r.check(fmt.Sprintf("rules[%d]", i), bad)
	}
	for i, n := range c.CAAIdentities {
		if err := checkName(n); err != nil {
			bad(fmt.Sprintf("caaIdentities[%d]", i), "%v", err)
		}
	}
	if c.LookupTimeout < 0 {
		bad("lookupTimeout", "must not be negative, got %s", c.LookupTimeout)
	}
	if c.HTTPTimeout < 0 {
		bad("httpTimeout", "must not be negative, got %s", c.HTTPTimeout)
	}
	checkRedirectPortMap(c.RedirectPortMap, bad)
	return errors.Join(errs...)
}

func checkRedirectPortMap(m map[int]int, bad reporter) {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, from := range keys {
		to := m[from]
		path := fmt.Sprintf("redirectPortMap[%d]", from)
		if from != 80 && from != 443 {
			bad(path, "only ports 80 and 443 can be redirect targets, so only they can be mapped")
		}
		if to < 1 || to > 65535 {
			bad(path, "must map to 1-65535, got %d", to)
		}
	}
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

// checkName accepts an exact DNS name (no wildcard).
func checkName(n string) error {
	if strings.Contains(n, "*") {
		return fmt.Errorf("%q: must be a DNS name without a wildcard", n)
	}
	return checkPattern(n)
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

// isIPPattern reports whether p is an IP address literal, which rules accept
// as an exact pattern for IP identifiers.
func isIPPattern(p string) bool {
	a, err := netip.ParseAddr(p)
	return err == nil && a.Zone() == ""
}
