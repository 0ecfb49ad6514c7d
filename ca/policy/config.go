package policy

import (
	"fmt"
	"strings"
)

// Config selects fakeca's identifier and key policy. The zero value is valid
// and is fakeca's default: special-use test names and private addresses
// accepted, nothing blocked, Ed25519 CSR keys refused.
type Config struct {
	// StrictPublicSuffix applies Let's Encrypt's exact rule: a DNS name must
	// end in a suffix from the ICANN section of the public suffix list, and IP
	// identifiers in any IANA special-purpose block are refused. Default
	// false: names under .test, .example, .invalid, .localhost, .internal and
	// .home.arpa are treated as if those were public suffixes, and loopback
	// (127.0.0.0/8, ::1) and RFC 1918 addresses are accepted, because a local
	// CA issues for exactly those.
	StrictPublicSuffix bool `yaml:"strictPublicSuffix"`
	// Blocklist lists names refused with Let's Encrypt's "forbidden by policy"
	// text, matched case-insensitively. An exact entry ("www.example.com")
	// refuses that name and any wildcard that would cover it
	// ("*.example.com"), like Boulder's ExactBlockedNames. A "*.suffix" entry
	// refuses the suffix itself and every name under it, like Boulder's
	// HighRiskBlockedNames. Default empty; LE's real lists are private.
	Blocklist []string `yaml:"blocklist"`
	// AllowEd25519CSR accepts Ed25519 keys (and PureEd25519 signatures) in
	// finalize CSRs. Let's Encrypt refuses them; cert-manager's e2e suite uses
	// them. Default false. Account keys never accept Ed25519.
	AllowEd25519CSR bool `yaml:"allowEd25519CSR"`
}

// Validate reports the first bad field, named by its YAML path
// ("policy.blocklist[2]: …").
func (c Config) Validate() error {
	seen := make(map[string]int, len(c.Blocklist))
	for i, entry := range c.Blocklist {
		path := fmt.Sprintf("policy.blocklist[%d]", i)
		if err := validateBlockEntry(entry); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		key := strings.ToLower(entry)
		if j, dup := seen[key]; dup {
			return fmt.Errorf("%s: %q duplicates policy.blocklist[%d]", path, entry, j)
		}
		seen[key] = i
	}
	return nil
}

func validateBlockEntry(entry string) error {
	if entry == "" {
		return fmt.Errorf("must not be empty")
	}
	lower := strings.ToLower(entry)
	name, pattern := strings.CutPrefix(lower, "*.")
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: \"*\" is only allowed as a leading \"*.\" label", entry)
	}
	if !plainHostname(name) {
		return fmt.Errorf("%q is not a valid domain name", entry)
	}
	if !pattern && !strings.Contains(name, ".") {
		return fmt.Errorf("%q: an exact name needs at least two labels (use \"*.%s\" to block a whole suffix)", entry, name)
	}
	return nil
}

// plainHostname reports whether name is lower-case LDH labels joined by dots:
// no empty label, none longer than 63 bytes, none starting or ending with a
// hyphen, 253 bytes at most.
func plainHostname(name string) bool {
	if name == "" || len(name) > maxDNSLength {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > maxLabelLength || !ldhLabel(label) {
			return false
		}
	}
	return true
}

// Policy applies a Config. Build it with New; the zero value behaves like
// New(Config{}). It is immutable and safe for concurrent use.
type Policy struct {
	strict        bool
	allowEd25519  bool
	exact         map[string]bool // exact blocked names
	wildcardExact map[string]bool // parents of exact names: "*.<parent>" is refused
	subtree       map[string]bool // "*.suffix" entries: the suffix and all below it
}

// New validates cfg and returns the Policy it describes.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		strict:        cfg.StrictPublicSuffix,
		allowEd25519:  cfg.AllowEd25519CSR,
		exact:         map[string]bool{},
		wildcardExact: map[string]bool{},
		subtree:       map[string]bool{},
	}
	for _, entry := range cfg.Blocklist {
		name := strings.ToLower(entry)
		if suffix, ok := strings.CutPrefix(name, "*."); ok {
			p.subtree[suffix] = true
			continue
		}
		p.exact[name] = true
		_, parent, _ := strings.Cut(name, ".")
		p.wildcardExact[parent] = true
	}
	return p, nil
}
