package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/fakeca/fakeca/acme"
)

// normalize returns a lowercased, sorted (dns before ip, then by value) and
// deduplicated copy of idents, as Boulder's identifier.Normalize.
func normalize(idents []acme.Identifier) []acme.Identifier {
	out := make([]acme.Identifier, len(idents))
	for i, id := range idents {
		out[i] = acme.Identifier{Type: id.Type, Value: strings.ToLower(id.Value)}
	}
	slices.SortFunc(out, func(a, b acme.Identifier) int {
		if a.Type != b.Type {
			return strings.Compare(string(a.Type), string(b.Type))
		}
		return strings.Compare(a.Value, b.Value)
	})
	return slices.Compact(out)
}

// fqdnSetHash is the hex SHA-256 of the normalized identifier values joined
// by "," (Boulder's core.HashIdentifiers printed with %x). idents must be
// normalized.
func fqdnSetHash(idents []acme.Identifier) string {
	h := sha256.New()
	for i, id := range idents {
		if i > 0 {
			h.Write([]byte{','})
		}
		h.Write([]byte(id.Value))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// covering returns what CertificatesPerDomain counts an identifier against:
// the registered domain (eTLD+1 on the whole public suffix list, private
// section included) of a DNS name, or the name itself if it is a public
// suffix; "<ip>/32" for IPv4; the "<prefix>/64" for IPv6.
func covering(id acme.Identifier) string {
	if id.Type == acme.TypeIP {
		ip, err := netip.ParseAddr(id.Value)
		if err != nil {
			return strings.ToLower(id.Value)
		}
		ip = ip.Unmap()
		bits := 32
		if ip.Is6() {
			bits = 64
		}
		p, _ := ip.Prefix(bits)
		return p.String()
	}
	return registeredDomain(strings.ToLower(id.Value))
}

// registeredDomain returns name's eTLD+1, or name itself when it is a public
// suffix (or otherwise has none), as Boulder's coveringIdentifier.
func registeredDomain(name string) string {
	d, err := publicsuffix.EffectiveTLDPlusOne(strings.TrimPrefix(name, "*."))
	if err != nil {
		return name
	}
	return d
}

// coveringSet returns the sorted, deduplicated covering identifiers of
// normalized idents.
func coveringSet(idents []acme.Identifier) []string {
	out := make([]string, 0, len(idents))
	for _, id := range idents {
		out = append(out, covering(id))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// identifiersFromList parses Boulder's fqdnSet override ID: comma-separated
// values, each an IP address or else a DNS name.
func identifiersFromList(list string) []acme.Identifier {
	var out []acme.Identifier
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimSpace(v)
		if _, err := netip.ParseAddr(v); err == nil {
			out = append(out, acme.Identifier{Type: acme.TypeIP, Value: v})
		} else {
			out = append(out, acme.Identifier{Type: acme.TypeDNS, Value: v})
		}
	}
	return normalize(out)
}
