package policy

import "github.com/fakeca/fakeca/acme"

// Options switches on the challenge types that Let's Encrypt offers only
// where a feature flag enables them. The zero value offers the three
// standard types, as Let's Encrypt production does. Plain data.
type Options struct {
	// DNSAccount01 offers dns-account-01 (draft-ietf-acme-dns-account-label),
	// as Pebble 2.10 does. Default off.
	DNSAccount01 bool `json:"dnsAccount01,omitempty" yaml:"dnsAccount01,omitempty"`
	// DNSPersist01 offers dns-persist-01 (draft-ietf-acme-dns-persist), as
	// Let's Encrypt staging and Pebble 2.10 do. Default off.
	DNSPersist01 bool `json:"dnsPersist01,omitempty" yaml:"dnsPersist01,omitempty"`
}

// ChallengeTypes returns the challenge types offered for id with the
// default Options: http-01, dns-01, tls-alpn-01 for a DNS name; dns-01 only
// for a wildcard (BR 3.2.2.4.19/20); http-01, tls-alpn-01 for an IP address
// (RFC 8738 §4). Other identifier types get none.
func ChallengeTypes(id acme.Identifier) []string {
	return ChallengeTypesWith(id, Options{})
}

// ChallengeTypesWith returns the challenge types offered for id, in a fixed
// order: Boulder's PA.ChallengeTypesFor order, then dns-account-01 and
// dns-persist-01 when opts enables them. The drafts' types come last on
// purpose: some clients take the first challenge they know and stop at one
// without a token. Boulder shuffles the list in authorization JSON; fakeca
// keeps this order so clients behave the same on every run.
//
//	DNS name:  http-01, dns-01, tls-alpn-01, [dns-account-01], [dns-persist-01]
//	wildcard:  dns-01, [dns-account-01], [dns-persist-01]
//	IP:        http-01, tls-alpn-01
func ChallengeTypesWith(id acme.Identifier, opts Options) []string {
	var out []string
	switch {
	case id.IsWildcard():
		out = []string{acme.ChallengeDNS01}
	case id.Type == acme.TypeDNS:
		out = []string{acme.ChallengeHTTP01, acme.ChallengeDNS01, acme.ChallengeTLSALPN01}
	case id.Type == acme.TypeIP:
		return []string{acme.ChallengeHTTP01, acme.ChallengeTLSALPN01}
	default:
		return nil
	}
	if opts.DNSAccount01 {
		out = append(out, acme.ChallengeDNSAccount01)
	}
	if opts.DNSPersist01 {
		out = append(out, acme.ChallengeDNSPersist01)
	}
	return out
}
