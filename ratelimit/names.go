package ratelimit

import "strings"

// Name is one of Let's Encrypt's rate limits. Its integer value is Boulder's
// enum value (ratelimits/names.go) and prefixes every bucket key, e.g.
// "3:12345" for NewOrdersPerAccount of account 12345. The zero value is no
// limit. Values are plain data.
//
// To add a limit: append a constant before numNames (never renumber), then
// update String, idKind, perIdentifier, presetLimits (presets.go),
// detailFor (errors.go), the override-ID parser overrideKey (config.go), the
// spending call in calls.go and the table in doc.go.
type Name int

// The limits, numbered as in Boulder. Boulder's 9
// (LimitOverrideRequestsPerIPAddress) guards its override request form, which
// fakeca does not have.
const (
	// NewRegistrationsPerIPAddress: new accounts per client IP (key "1:<ip>").
	NewRegistrationsPerIPAddress Name = iota + 1
	// NewRegistrationsPerIPv6Range: new accounts per client IPv6 /48 (key
	// "2:<prefix>/48").
	NewRegistrationsPerIPv6Range
	// NewOrdersPerAccount: new orders per account (key "3:<account>").
	NewOrdersPerAccount
	// FailedAuthorizationsPerDomainPerAccount: failed authorizations per
	// identifier per account (key "4:<account>:<identifier>").
	FailedAuthorizationsPerDomainPerAccount
	// CertificatesPerDomain: certificates per registered domain, IPv4 /32 or
	// IPv6 /64 (key "5:<domain or CIDR>").
	CertificatesPerDomain
	// CertificatesPerDomainPerAccount: like CertificatesPerDomain but per
	// account (key "6:<account>:<domain or CIDR>"). Override-only.
	CertificatesPerDomainPerAccount
	// CertificatesPerFQDNSet: certificates per exact set of identifiers (key
	// "7:<hex sha256>").
	CertificatesPerFQDNSet
	// FailedAuthorizationsForPausingPerDomainPerAccount: consecutive failed
	// authorizations per identifier per account before the identifier is
	// paused (key "8:<account>:<identifier>").
	FailedAuthorizationsForPausingPerDomainPerAccount

	numNames // not a limit: one past the last Name
)

// prefix relies on every Name being one digit: this fails to compile if a
// tenth limit is added.
const _ = uint(10 - numNames)

// String returns Boulder's name of the limit, as used in YAML and in the
// management API; "" for an unknown Name.
func (n Name) String() string {
	switch n {
	case NewRegistrationsPerIPAddress:
		return "NewRegistrationsPerIPAddress"
	case NewRegistrationsPerIPv6Range:
		return "NewRegistrationsPerIPv6Range"
	case NewOrdersPerAccount:
		return "NewOrdersPerAccount"
	case FailedAuthorizationsPerDomainPerAccount:
		return "FailedAuthorizationsPerDomainPerAccount"
	case CertificatesPerDomain:
		return "CertificatesPerDomain"
	case CertificatesPerDomainPerAccount:
		return "CertificatesPerDomainPerAccount"
	case CertificatesPerFQDNSet:
		return "CertificatesPerFQDNSet"
	case FailedAuthorizationsForPausingPerDomainPerAccount:
		return "FailedAuthorizationsForPausingPerDomainPerAccount"
	}
	return ""
}

// ParseName returns the Name whose String is s.
func ParseName(s string) (Name, bool) {
	for n := Name(1); n < numNames; n++ {
		if n.String() == s {
			return n, true
		}
	}
	return 0, false
}

// nameList is every limit name joined by ", ", for error messages.
func nameList() string {
	names := make([]string, 0, numNames-1)
	for n := Name(1); n < numNames; n++ {
		names = append(names, n.String())
	}
	return strings.Join(names, ", ")
}

// prefix returns the bucket-key prefix "<enum>:" without allocating
// (every Name is a single digit).
func (n Name) prefix() string {
	const prefixes = "0:1:2:3:4:5:6:7:8:9:"
	return prefixes[2*n : 2*n+2]
}

// idKind is what an override ID names for a limit (Boulder's README). To
// add one: update Name.idKind, overrideKey (config.go) and bucketKey
// (mgmt.go).
type idKind int

const (
	idIPAddress    idKind = iota + 1 // "192.0.2.1", "2001:db8::1"
	idIPv6Range                      // "2001:db8:1::/48"
	idAccount                        // "12345"
	idDomainOrCIDR                   // "example.com", "192.0.2.1", "2001:db8::" (a /64 base)
	idFQDNSet                        // "example.com,www.example.com"
)

func (n Name) idKind() idKind {
	switch n {
	case NewRegistrationsPerIPAddress:
		return idIPAddress
	case NewRegistrationsPerIPv6Range:
		return idIPv6Range
	case CertificatesPerDomain:
		return idDomainOrCIDR
	case CertificatesPerFQDNSet:
		return idFQDNSet
	}
	return idAccount
}

// perIdentifier reports whether the bucket key extends the override key
// with ":<identifier>" (the override is per account, the bucket per
// account and identifier).
func (n Name) perIdentifier() bool {
	switch n {
	case FailedAuthorizationsPerDomainPerAccount, CertificatesPerDomainPerAccount,
		FailedAuthorizationsForPausingPerDomainPerAccount:
		return true
	}
	return false
}
