package policy

import (
	"strings"

	"github.com/fakeca/fakeca/acme"
)

// New-order texts from Boulder's ra/ra.go (NewOrder, wildcardOverlap).
const (
	tooManyIdentifiersFormat = "Order cannot contain more than %d identifiers"
	defaultProfileNoIP       = "Default profile does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/."
	profileNoIPFormat        = "Profile %q does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/."
	redundantWildcardFormat  = "Domain name %q is redundant with a wildcard domain in the same request. Remove one or the other from the certificate request."
)

// CheckProfileIdentifiers applies a profile's limits to an order's Canonical
// identifiers, in Boulder's order: more than maxNames identifiers (maxNames
// <= 0 means no limit) is malformed "Order cannot contain more than %d
// identifiers"; an IP identifier when !allowIP is rejectedIdentifier, naming
// the profile, or "Default profile" when the order named none (profileName
// == "").
func CheckProfileIdentifiers(ids []acme.Identifier, profileName string, allowIP bool, maxNames int) error {
	if maxNames > 0 && len(ids) > maxNames {
		return acme.New(acme.Malformed, tooManyIdentifiersFormat, maxNames)
	}
	if allowIP {
		return nil
	}
	for _, id := range ids {
		if id.Type != acme.TypeIP {
			continue
		}
		if profileName == "" {
			return acme.New(acme.RejectedIdentifier, defaultProfileNoIP)
		}
		return acme.New(acme.RejectedIdentifier, profileNoIPFormat, profileName)
	}
	return nil
}

// CheckWildcardRedundancy refuses, as malformed, an order holding both
// "*.example.com" and a name it covers such as "www.example.com". With
// several such names the first in ids' order is reported (Boulder's choice
// depends on map order).
func CheckWildcardRedundancy(ids []acme.Identifier) error {
	names := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id.Type == acme.TypeDNS {
			names[id.Value] = true
		}
	}
	for _, id := range ids {
		if id.Type != acme.TypeDNS || id.Value == "" || id.IsWildcard() {
			continue
		}
		_, parent, _ := strings.Cut(id.Value, ".")
		if names["*."+parent] {
			return acme.New(acme.Malformed, redundantWildcardFormat, id.Value)
		}
	}
	return nil
}
