package challengeval

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/fakeca/fakeca/acme"
)

// dns-account-01 (draft-ietf-acme-dns-account-label) constants.
const (
	// accountLabelBytes is how much of SHA-256(account URL) the label keeps.
	accountLabelBytes = 10
	// noAccountURI is Boulder's internal error when the CA sends no account
	// URL; a wiring bug, so it stays serverInternal.
	noAccountURI = "accountURI must be provided for dns-account-01"
)

// DNSAccountLabel returns the dns-account-01 TXT record name for an
// account URL and a DNS name: "_" + lower(base32(SHA-256(accountURI)[0:10]))
// + "._acme-challenge." + name (a wildcard's "*." removed). For
// "https://example.com/acme/acct/ExampleAccount" the label is
// "_ujmmovf2vn55tgye". Pure.
func DNSAccountLabel(accountURI, name string) string {
	sum := sha256.Sum256([]byte(accountURI))
	label := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:accountLabelBytes]))
	return "_" + label + "." + dnsPrefix + "." + baseName(acme.Identifier{Type: acme.TypeDNS, Value: name})
}

// validateDNSAccount01 looks for base64url(sha256(keyAuthz)) in the TXT
// records at the account-scoped label, with dns-01's texts.
func (v *Validator) validateDNSAccount01(ctx context.Context, id acme.Identifier, accountURI, keyAuthz string) error {
	if id.Type != acme.TypeDNS {
		return acme.New(acme.Malformed, dns01NotDNS)
	}
	return v.validateTXT(ctx, DNSAccountLabel(accountURI, id.Value), keyAuthzDigest(keyAuthz))
}
