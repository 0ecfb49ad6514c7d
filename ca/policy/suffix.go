package policy

import (
	"strings"

	"golang.org/x/net/publicsuffix"
)

// specialUseSuffixes are the reserved names (RFC 2606, RFC 6761, RFC 8375,
// ICANN's .internal) that local testing uses. Unless StrictPublicSuffix is
// set they count as public suffixes, so "app.test" is issuable and "test" or
// "*.test" are refused as an ICANN TLD or a wildcard for one.
var specialUseSuffixes = [...]string{"test", "example", "invalid", "localhost", "internal", "home.arpa"}

// publicSuffix returns the suffix that name must end in (and must not equal),
// or false when it ends in none: the special-use names first unless strict,
// then the ICANN section of the public suffix list.
func (p *Policy) publicSuffix(name string) (string, bool) {
	if !p.strict {
		for _, s := range specialUseSuffixes {
			if name == s || strings.HasSuffix(name, "."+s) {
				return s, true
			}
		}
	}
	return icannSuffix(name)
}

// icannSuffix returns the longest suffix of name that the ICANN section of
// the public suffix list covers, ignoring the private section, as Boulder's
// iana.ExtractSuffix does: "foo.blogspot.com" → "com". Names under a TLD the
// list does not know have none.
func icannSuffix(name string) (string, bool) {
	suffix, icann := publicsuffix.PublicSuffix(name)
	for !icann {
		// A private rule, or the list's implicit "*" rule for an unknown
		// TLD. Any ICANN rule matching name is a proper suffix of it.
		_, parent, found := strings.Cut(suffix, ".")
		if !found {
			return "", false
		}
		suffix, icann = publicsuffix.PublicSuffix(parent)
	}
	return suffix, true
}
