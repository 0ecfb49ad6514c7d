package challengeval

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's dns-01 texts (va/dns.go), verbatim.
const (
	// dnsPrefix is the label under which dns-01 TXT records live.
	dnsPrefix = "_acme-challenge"
	// noTXTFormat is filled with the queried name.
	noTXTFormat = "No TXT record found at %s"
	// wrongTXTFormat is filled with the first record (quoted, cut to
	// maxShownTXT bytes plus "..."), andMoreFormat or "", and the name.
	wrongTXTFormat = "Incorrect TXT record %q%s found at %s"
	andMoreFormat  = " (and %d more)"
	maxShownTXT    = 100
	// dns01NotDNS is returned for an IP identifier.
	dns01NotDNS = "Identifier type for DNS was not itself DNS"
)

// validateDNS01 looks for base64url(sha256(keyAuthz)) in the TXT records at
// _acme-challenge.<name>.
func (v *Validator) validateDNS01(ctx context.Context, id acme.Identifier, keyAuthz string) error {
	if id.Type != acme.TypeDNS {
		return acme.New(acme.Malformed, dns01NotDNS)
	}
	return v.validateTXT(ctx, dnsPrefix+"."+baseName(id), keyAuthzDigest(keyAuthz))
}

// baseName is a DNS identifier's name without a trailing dot or a
// wildcard's "*.".
func baseName(id acme.Identifier) string {
	return strings.TrimPrefix(strings.TrimSuffix(id.Value, "."), "*.")
}

// keyAuthzDigest is base64url(sha256(keyAuthz)), the TXT value dns-01 and
// dns-account-01 expect.
func keyAuthzDigest(keyAuthz string) string {
	sum := sha256.Sum256([]byte(keyAuthz))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// lookupTXT returns the TXT records at name, each record's strings joined.
// A failed look-up is a dns problem with Boulder's detail.
func (v *Validator) lookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := v.resolver.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, acme.New(acme.DNS, "%s", err.Error())
	}
	txts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			txts = append(txts, strings.Join(t.Txt, ""))
		}
	}
	return txts, nil
}

// validateTXT looks for want among the TXT records at name (Boulder's
// validateTXT, shared by dns-01 and dns-account-01).
func (v *Validator) validateTXT(ctx context.Context, name, want string) error {
	txts, err := v.lookupTXT(ctx, name)
	if err != nil {
		return err
	}
	if len(txts) == 0 {
		return acme.New(acme.Unauthorized, noTXTFormat, name)
	}
	for _, t := range txts {
		if subtle.ConstantTimeCompare([]byte(t), []byte(want)) == 1 {
			return nil
		}
	}
	shown := txts[0]
	if len(shown) > maxShownTXT {
		shown = shown[:maxShownTXT] + "..."
	}
	more := ""
	if len(txts) > 1 {
		more = fmt.Sprintf(andMoreFormat, len(txts)-1)
	}
	return acme.New(acme.Unauthorized, wrongTXTFormat, shown, more, name)
}
