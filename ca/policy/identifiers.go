package policy

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/fakeca/fakeca/acme"
)

// Limits hard-coded into Boulder's texts below; change both together.
const (
	maxLabels      = 10
	maxLabelLength = 63
	maxDNSLength   = 253
)

// Identifier rejection reasons, verbatim from Boulder's policy/pa.go. Each is
// the detail of a subproblem and follows "Cannot issue for %q: " at top level.
const (
	reasonEmpty         = "Identifier value (name) is empty"
	reasonNonPublic     = "Domain name does not end with a valid public suffix (TLD)"
	reasonICANNTLD      = "Domain name is an ICANN TLD"
	reasonForbidden     = "The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy"
	reasonBadChar       = "Domain name contains an invalid character"
	reasonTooLong       = "Domain name is longer than 253 bytes"
	reasonIPInDNS       = "Identifier type is DNS but value is an IP address"
	reasonIPInvalid     = "IP address is invalid"
	reasonTooManyLabels = "Domain name has more than 10 labels (parts)"
	reasonEndsInDot     = "Domain name ends in a dot"
	reasonTooFewLabels  = "Domain name needs at least one dot"
	reasonEmptyLabel    = "Domain name can not have two dots in a row"
	reasonLabelTooLong  = "Domain has a label (component between dots) longer than 63 bytes"
	reasonBadPunycode   = "Domain name contains malformed punycode"
	reasonRLDH          = "Domain name contains an invalid label in a reserved format (R-LDH: '??--')"
	reasonManyWildcards = "Domain name has more than one wildcard"
	reasonBadWildcard   = "Domain name contains an invalid wildcard. A wildcard is only permitted before the first dot in a domain name"
	reasonWildcardTLD   = "Domain name is a wildcard for an ICANN TLD"
	reasonUnknownType   = "Invalid identifier type"

	// cannotIssueFormat is the top-level detail for one bad identifier,
	// cannotIssueManyFormat for several (the rest are subproblems).
	cannotIssueFormat     = "Cannot issue for %q: %s"
	cannotIssueManyFormat = "Cannot issue for %q: %s (and %d more problems. Refer to sub-problems for more information.)"
)

// Canonical returns ids lower-cased, deduplicated and sorted: DNS identifiers
// first, then IP, then any other type, each by value (Boulder's
// identifier.Normalize). Like Boulder it only lower-cases IP values, so a
// non-canonical address such as "2001:db8:0::1" survives for CheckIdentifiers
// to reject with "IP address is invalid", as Let's Encrypt does. The input
// is not modified.
func Canonical(ids []acme.Identifier) []acme.Identifier {
	out := make([]acme.Identifier, len(ids))
	for i, id := range ids {
		out[i] = acme.Identifier{Type: id.Type, Value: strings.ToLower(id.Value)}
	}
	slices.SortFunc(out, func(a, b acme.Identifier) int {
		return cmp.Or(
			cmp.Compare(typeRank(a.Type), typeRank(b.Type)),
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Value, b.Value))
	})
	return slices.Compact(out)
}

func typeRank(t acme.IdentifierType) int {
	switch t {
	case acme.TypeDNS:
		return 0
	case acme.TypeIP:
		return 1
	}
	return 2
}

// WellFormed applies Let's Encrypt's syntax rules to every identifier (Boulder
// policy.WellFormedIdentifiers, which the WFE runs before the RA). ids should
// be Canonical: upper-case DNS values are refused as invalid characters. One
// bad identifier gives a rejectedIdentifier "Cannot issue for …" error; several
// give the "(and N more problems…)" text with one subproblem each. An
// unknown identifier type alone gives type unsupportedIdentifier.
func (p *Policy) WellFormed(ids []acme.Identifier) error {
	var subs []acme.SubError
	for _, id := range ids {
		if err := p.checkSyntax(id); err != nil {
			subs = append(subs, acme.SubError{Identifier: id, Err: err})
		}
	}
	return combine(subs)
}

// CheckIdentifiers is WellFormed followed, when every identifier is well
// formed, by the blocklist (Boulder's PA.WillingToIssue, run by the RA at
// new-order and by finalize on the CSR's identifiers).
func (p *Policy) CheckIdentifiers(ids []acme.Identifier) error {
	if err := p.WellFormed(ids); err != nil {
		return err
	}
	var subs []acme.SubError
	for _, id := range ids {
		if id.Type == acme.TypeDNS && p.blocked(id.Value) {
			subs = append(subs, acme.SubError{Identifier: id, Err: acme.New(acme.RejectedIdentifier, reasonForbidden)})
		}
	}
	return combine(subs)
}

func combine(subs []acme.SubError) error {
	switch len(subs) {
	case 0:
		return nil
	case 1:
		t := acme.RejectedIdentifier
		if subs[0].Err.Type == acme.UnsupportedIdentifier {
			t = acme.UnsupportedIdentifier
		}
		return acme.New(t, cannotIssueFormat, subs[0].Identifier.Value, subs[0].Err.Detail)
	}
	e := acme.New(acme.RejectedIdentifier, cannotIssueManyFormat,
		subs[0].Identifier.Value, subs[0].Err.Detail, len(subs)-1)
	e.Sub = subs
	return e
}

func (p *Policy) checkSyntax(id acme.Identifier) *acme.Error {
	switch id.Type {
	case acme.TypeDNS:
		return p.checkDNS(id.Value)
	case acme.TypeIP:
		return p.checkIP(id.Value)
	}
	return acme.New(acme.UnsupportedIdentifier, reasonUnknownType)
}

// checkDNS is Boulder's ValidDomain: wildcard shape first, then the base
// name's suffix, then the hostname rules.
func (p *Policy) checkDNS(name string) *acme.Error {
	switch n := strings.Count(name, "*"); {
	case n == 0:
		return p.checkHostname(name)
	case n > 1:
		return malformed(reasonManyWildcards)
	case !strings.HasPrefix(name, "*."):
		return malformed(reasonBadWildcard)
	}
	base := name[2:]
	suffix, ok := p.publicSuffix(base)
	if !ok {
		return malformed(reasonNonPublic)
	}
	if suffix == base {
		return malformed(reasonWildcardTLD)
	}
	return p.checkHostname(base)
}

// checkHostname applies the non-wildcard rules in Boulder's order.
func (p *Policy) checkHostname(name string) *acme.Error {
	if name == "" {
		return malformed(reasonEmpty)
	}
	for i := 0; i < len(name); i++ {
		if !dnsChar(name[i]) {
			return malformed(reasonBadChar)
		}
	}
	if len(name) > maxDNSLength {
		return malformed(reasonTooLong)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return malformed(reasonIPInDNS)
	}
	if strings.HasSuffix(name, ".") {
		return malformed(reasonEndsInDot)
	}
	labels := strings.Split(name, ".")
	if len(labels) > maxLabels {
		return malformed(reasonTooManyLabels)
	}
	if len(labels) < 2 {
		return malformed(reasonTooFewLabels)
	}
	for _, label := range labels {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	suffix, ok := p.publicSuffix(name)
	if !ok {
		return malformed(reasonNonPublic)
	}
	if suffix == name {
		return malformed(reasonICANNTLD)
	}
	return nil
}

func checkLabel(label string) *acme.Error {
	switch {
	case label == "":
		return malformed(reasonEmptyLabel)
	case len(label) > maxLabelLength:
		return malformed(reasonLabelTooLong)
	case !ldhLabel(label):
		return malformed(reasonBadChar)
	}
	// RFC 5890 §2.3.1: "??--" marks a reserved LDH label; of those only
	// XN-labels are allowed, and they must hold valid, NFC-normal punycode.
	if len(label) < 4 || label[2:4] != "--" {
		return nil
	}
	if label[:2] != "xn" {
		return acme.New(acme.RejectedIdentifier, reasonRLDH)
	}
	u, err := idna.ToUnicode(label)
	if err != nil || !norm.NFC.IsNormalString(u) {
		return malformed(reasonBadPunycode)
	}
	return nil
}

// dnsChar is the first, coarse character filter (upper case passes here and
// fails the per-label check, as in Boulder).
func dnsChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-'
}

// ldhLabel reports whether label is lower-case letters, digits and inner
// hyphens.
func ldhLabel(label string) bool {
	if label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func malformed(reason string) *acme.Error {
	return &acme.Error{Type: acme.Malformed, Detail: reason}
}

// blocked reports whether a DNS name (wildcard or not) is refused by the
// blocklist, following Boulder's checkWildcardHostList and checkHostLists.
func (p *Policy) blocked(name string) bool {
	if base, ok := strings.CutPrefix(name, "*."); ok && p.wildcardExact[base] {
		return true
	}
	for rest := name; ; {
		if p.subtree[rest] {
			return true
		}
		_, after, found := strings.Cut(rest, ".")
		if !found {
			break
		}
		rest = after
	}
	return p.exact[name]
}

// checkIP is Boulder's ValidIP: RFC 8738 §3 canonical text (RFC 1123 /
// RFC 5952), no zone, and no IANA special-purpose block — except, unless
// StrictPublicSuffix, the loopback and RFC 1918 blocks a local CA serves.
func (p *Policy) checkIP(value string) *acme.Error {
	if value == "" {
		return malformed(reasonEmpty)
	}
	addr, err := netip.ParseAddr(value)
	if err != nil || addr.Zone() != "" || addr.String() != value {
		return malformed(reasonIPInvalid)
	}
	if !p.strict && localAddr(addr) {
		return nil
	}
	if b, ok := reservedBlock(addr); ok {
		return acme.New(acme.RejectedIdentifier, reasonReservedFormat, b.rfc, b.name)
	}
	return nil
}
