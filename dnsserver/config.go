package dnsserver

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// configPath is the YAML path of Config inside fakeca's configuration file;
// every Validate message starts with it.
const configPath = "dns"

// Defaults used by DefaultConfig.
const (
	DefaultListen           = "127.0.0.1:8053"
	DefaultManagementListen = "127.0.0.1:8055"
	DefaultIPv4             = "127.0.0.1"
	DefaultIPv6             = "::1"
	// BuiltinZone is always served, in addition to Config.Zones.
	BuiltinZone = "test."
)

// Config configures a Server. Fields are taken literally: the zero Config
// has no DNS address and fails Validate, so start from DefaultConfig and
// decode YAML over it (absent keys keep their defaults, `defaultIPv4: ""`
// turns the default answer off). A Config is plain data; New copies it.
type Config struct {
	// Listen is the DNS address, served over UDP and TCP on the same port.
	// Default 127.0.0.1:8053 (pebble-challtestsrv's -dnsserver port). Port 0
	// picks a free port; Server.Addr reports it. Flag --dns-listen.
	Listen string `json:"listen,omitempty" yaml:"listen,omitempty"`

	// Zones are served authoritatively in addition to BuiltinZone ("test.").
	// Names are case-insensitive with or without the trailing dot; nested
	// zones are allowed and the longest match wins. Flag --dns-zone
	// (repeatable).
	Zones []string `json:"zones,omitempty" yaml:"zones,omitempty"`

	// TSIG lists the keys that may sign RFC 2136 updates (any key may
	// update any served zone). Empty means unsigned updates are accepted
	// for served zones, as cert-manager's e2e BIND does; once a key is
	// configured unsigned updates are REFUSED. Flag --tsig (repeatable,
	// NAME:ALGORITHM:BASE64SECRET).
	TSIG []TSIGKey `json:"tsig,omitempty" yaml:"tsig,omitempty"`

	// DefaultIPv4 answers A queries for names that have no A (or CNAME)
	// records, like pebble-challtestsrv's -defaultIPv4. Default 127.0.0.1;
	// "" turns it off. Changeable at run time through Records.
	DefaultIPv4 string `json:"defaultIPv4" yaml:"defaultIPv4"`

	// DefaultIPv6 is the same for AAAA queries. Default ::1; "" is off.
	DefaultIPv6 string `json:"defaultIPv6" yaml:"defaultIPv6"`

	// HTTP01Listen serves HTTP-01 responses provisioned through the
	// management API (plain HTTP, keep-alives off). Default "" (off);
	// pebble-challtestsrv uses :5002.
	HTTP01Listen string `json:"http01Listen,omitempty" yaml:"http01Listen,omitempty"`

	// TLSALPN01Listen serves TLS-ALPN-01 challenge certificates (RFC 8737)
	// provisioned through the management API. Default "" (off);
	// pebble-challtestsrv uses :5001.
	TLSALPN01Listen string `json:"tlsalpn01Listen,omitempty" yaml:"tlsalpn01Listen,omitempty"`

	// ManagementListen serves the pebble-challtestsrv-compatible API
	// (plain HTTP, no authentication: keep it on loopback). Default
	// 127.0.0.1:8055; "" is off (Server.ManagementHandler still works).
	// Flag --challtestsrv-listen.
	ManagementListen string `json:"challtestsrvListen,omitempty" yaml:"challtestsrvListen,omitempty"`
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, ManagementListen: DefaultManagementListen,
		DefaultIPv4: DefaultIPv4, DefaultIPv6: DefaultIPv6}
}

// TSIGKey is one TSIG key (RFC 8945). Values are plain data; the zero
// value is invalid.
type TSIGKey struct {
	// Name is the key name, e.g. "cert-manager." (trailing dot optional,
	// case-insensitive). It must equal cert-manager's tsigKeyName.
	Name string `json:"name" yaml:"name"`
	// Algorithm is hmac-md5, hmac-sha1, hmac-sha256 or hmac-sha512 (the
	// wire names such as "hmac-md5.sig-alg.reg.int." and cert-manager's
	// spellings such as "HMACSHA256" are accepted too).
	Algorithm string `json:"algorithm" yaml:"algorithm"`
	// Secret is the key in standard base64 with padding, exactly what goes
	// into cert-manager's TSIG secret. Never logged.
	Secret string `json:"secret" yaml:"secret"`
}

// canonicalAlgorithm returns the wire name for an accepted spelling of a
// TSIG algorithm, or "".
func canonicalAlgorithm(s string) string {
	switch strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") {
	case "hmac-md5", "hmac-md5.sig-alg.reg.int", "hmacmd5":
		return dns.HmacMD5
	case "hmac-sha1", "hmacsha1":
		return dns.HmacSHA1
	case "hmac-sha256", "hmacsha256":
		return dns.HmacSHA256
	case "hmac-sha512", "hmacsha512":
		return dns.HmacSHA512
	}
	return ""
}

// ParseTSIGFlag parses the --tsig flag form "NAME:ALGORITHM:BASE64SECRET"
// and checks the parts. Errors never contain the secret.
func ParseTSIGFlag(s string) (TSIGKey, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return TSIGKey{}, fmt.Errorf("--tsig: want NAME:ALGORITHM:BASE64SECRET, got %d field(s)", len(parts))
	}
	k := TSIGKey{Name: parts[0], Algorithm: parts[1], Secret: parts[2]}
	if ps := k.problems(); len(ps) > 0 {
		return TSIGKey{}, fmt.Errorf("--tsig %s: %s", ps[0].field, ps[0].msg)
	}
	return k, nil
}

// problem is one invalid field below some YAML path.
type problem struct{ field, msg string }

// problems checks one key; the first problem per field only.
func (k TSIGKey) problems() []problem {
	var ps []problem
	if err := checkName(k.Name); err != nil {
		ps = append(ps, problem{"name", err.Error()})
	}
	if canonicalAlgorithm(k.Algorithm) == "" {
		ps = append(ps, problem{"algorithm", fmt.Sprintf("%q is not one of hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512", k.Algorithm)})
	}
	if k.Secret == "" {
		ps = append(ps, problem{"secret", "must not be empty"})
	} else if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) == 0 {
		ps = append(ps, problem{"secret", "is not standard base64 with padding (RFC 4648 §4)"})
	}
	return ps
}

// Validate reports every invalid field, one per line, each starting with
// its YAML path (e.g. "dns.tsig[1].algorithm: ...").
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", configPath, path, fmt.Sprintf(format, args...)))
	}
	if c.Listen == "" {
		bad("listen", "must not be empty")
	}
	seen := map[string]string{}
	for _, l := range []struct{ path, addr string }{{"listen", c.Listen}, {"http01Listen", c.HTTP01Listen},
		{"tlsalpn01Listen", c.TLSALPN01Listen}, {"challtestsrvListen", c.ManagementListen}} {
		if l.addr == "" {
			continue
		}
		if err := checkListen(l.addr); err != nil {
			bad(l.path, "%v", err)
		} else if other, dup := seen[l.addr]; dup && !strings.HasSuffix(l.addr, ":0") {
			bad(l.path, "%q is already used by %s.%s", l.addr, configPath, other)
		}
		seen[l.addr] = l.path
	}
	zones := map[string]int{}
	for i, z := range c.Zones {
		path := fmt.Sprintf("zones[%d]", i)
		if err := checkName(z); err != nil {
			bad(path, "%v", err)
		} else if z = canonical(z); z == "." {
			bad(path, "the root zone cannot be served")
		} else if j, dup := zones[z]; dup {
			bad(path, "duplicate of %s.zones[%d]", configPath, j)
		} else {
			zones[z] = i
		}
	}
	keys := map[string]int{}
	for i, k := range c.TSIG {
		for _, p := range k.problems() {
			bad(fmt.Sprintf("tsig[%d].%s", i, p.field), "%s", p.msg)
		}
		if j, dup := keys[canonical(k.Name)]; dup && k.Name != "" {
			bad(fmt.Sprintf("tsig[%d].name", i), "duplicate of %s.tsig[%d].name", configPath, j)
		}
		keys[canonical(k.Name)] = i
	}
	if err := checkIP(c.DefaultIPv4, true); err != nil {
		bad("defaultIPv4", "%v", err)
	}
	if err := checkIP(c.DefaultIPv6, false); err != nil {
		bad("defaultIPv6", "%v", err)
	}
	return errors.Join(errs...)
}

// checkListen checks a "host:port" listen address; port 0 is allowed.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", s)
	}
	return nil
}

// checkName checks a domain name (zone or key name).
func checkName(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	if _, ok := dns.IsDomainName(s); !ok || strings.ContainsAny(s, " \t\\*") {
		return fmt.Errorf("%q is not a domain name", s)
	}
	return nil
}

// checkIP checks a default address: "" (off) or an address of the family.
func checkIP(s string, v4 bool) error {
	if s == "" {
		return nil
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil || a.Zone() != "":
		return fmt.Errorf("%q is not an IP address", s)
	case v4 && !a.Is4():
		return fmt.Errorf("%q is not an IPv4 address", s)
	case !v4 && (!a.Is6() || a.Is4In6()):
		return fmt.Errorf("%q is not an IPv6 address", s)
	}
	return nil
}

// canonical returns the lower-case FQDN form of a name.
func canonical(name string) string {
	return dns.CanonicalName(strings.TrimSpace(name))
}
