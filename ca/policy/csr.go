package policy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/fakeca/fakeca/acme"
)

// Finalize texts from Boulder's csr/csr.go and ra.validateFinalizeRequest.
const (
	csrParseFormat      = "unable to parse CSR: %s"
	csrMustStaple       = "OCSP must-staple extension is no longer available: see https://letsencrypt.org/2024/12/05/ending-ocsp"
	csrKeyFormat        = "invalid public key in CSR: %s"
	csrSigAlg           = "signature algorithm not supported"
	csrBadSignature     = "invalid signature on CSR"
	csrEmail            = "CSR contains one or more email address fields"
	csrURI              = "CSR contains one or more URI fields"
	csrIPInCN           = "CSR contains IP address in Common Name"
	csrNoIdentifiers    = "at least one identifier is required"
	csrTooManyFormat    = "CSR identifier count is not at minimum 1 or at maximum %d"
	csrWrongIdentifiers = "CSR does not specify same identifiers as Order"
	csrAccountKey       = "certificate public key must be different than account key"
)

// maxCNLength is RFC 5280's upper bound for a CommonName.
const maxCNLength = 64

// RFC 7633 id-pe-tlsfeature and the value asking for status_request (OCSP
// must-staple): SEQUENCE { INTEGER 5 }.
var (
	oidTLSFeature   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}
	mustStapleValue = []byte{0x30, 0x03, 0x02, 0x01, 0x05}
)

// CSRRequest is what CheckCSR needs to judge a finalize request. It is plain
// data; the zero value is not useful.
type CSRRequest struct {
	// CSR is the parsed request (see ParseCSR). Required.
	CSR *x509.CertificateRequest
	// OrderIdentifiers are the order's identifiers, Canonical.
	OrderIdentifiers []acme.Identifier
	// AccountKey is the ordering account's key; nil skips the reuse check.
	AccountKey crypto.PublicKey
	// MaxNames is the profile's identifier limit; <= 0 means no limit.
	MaxNames int
	// KeyBlocked reports blocked keys; nil blocks none.
	KeyBlocked KeyBlockedFunc
}

// ParseCSR parses a DER CSR, refusing it as badCSR "unable to parse CSR:
// <reason>" like Boulder's RA.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, acme.New(acme.BadCSR, csrParseFormat, err.Error())
	}
	return csr, nil
}

// CheckCSR decides whether a CSR may finalize an order, in Boulder's order
// (ra.validateFinalizeRequest around csr.VerifyCSR), so that a CSR with
// several faults gets the same error as from Let's Encrypt:
//
//  1. must-staple extension → unauthorized
//  2. key policy, including KeyBlocked → badCSR "invalid public key in CSR: …"
//  3. signature algorithm, then the signature itself → badCSR
//  4. email or URI SANs, an IP address as CN → badCSR
//  5. no identifiers, more than MaxNames → badCSR
//  6. identifier policy (CheckIdentifiers) → rejectedIdentifier
//  7. identifier set differs from the order's → unauthorized
//  8. certificate key equals the account key → malformed
//
// A failed KeyBlocked lookup is returned as a plain error.
func (p *Policy) CheckCSR(r CSRRequest) error {
	csr := r.CSR
	if csr == nil {
		return errors.New("policy: CheckCSR without a CSR")
	}
	if hasMustStaple(csr.Extensions) {
		return acme.New(acme.Unauthorized, csrMustStaple)
	}
	if err := p.checkKey(csr.PublicKey, p.allowEd25519, r.KeyBlocked); err != nil {
		if errors.Is(err, errBadKey) {
			return acme.New(acme.BadCSR, csrKeyFormat, err.Error())
		}
		return err
	}
	if err := p.checkCSRSignature(csr); err != nil {
		return err
	}
	ids, err := csrContents(csr, r.MaxNames)
	if err != nil {
		return err
	}
	if err := p.CheckIdentifiers(ids); err != nil {
		return err
	}
	if !slices.Equal(ids, Canonical(r.OrderIdentifiers)) {
		return acme.New(acme.Unauthorized, csrWrongIdentifiers)
	}
	if r.AccountKey != nil && sameKey(csr.PublicKey, r.AccountKey) {
		return acme.New(acme.Malformed, csrAccountKey)
	}
	return nil
}

func hasMustStaple(exts []pkix.Extension) bool {
	for _, ext := range exts {
		if ext.Id.Equal(oidTLSFeature) && bytes.Equal(ext.Value, mustStapleValue) {
			return true
		}
	}
	return false
}

// checkCSRSignature allows SHA-256/384/512 with RSA or ECDSA (no SHA-1, MD5,
// DSA or RSA-PSS), plus PureEd25519 when AllowEd25519CSR is set.
func (p *Policy) checkCSRSignature(csr *x509.CertificateRequest) error {
	switch csr.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
	case x509.PureEd25519:
		if !p.allowEd25519 {
			return acme.New(acme.BadCSR, csrSigAlg)
		}
	default:
		return acme.New(acme.BadCSR, csrSigAlg)
	}
	if err := csr.CheckSignature(); err != nil {
		return acme.New(acme.BadCSR, csrBadSignature)
	}
	return nil
}

// csrContents checks the CSR's names and returns its identifiers.
func csrContents(csr *x509.CertificateRequest, maxNames int) ([]acme.Identifier, error) {
	if len(csr.EmailAddresses) > 0 {
		return nil, acme.New(acme.BadCSR, csrEmail)
	}
	if len(csr.URIs) > 0 {
		return nil, acme.New(acme.BadCSR, csrURI)
	}
	if _, err := netip.ParseAddr(csr.Subject.CommonName); err == nil {
		return nil, acme.New(acme.BadCSR, csrIPInCN)
	}
	ids := CSRIdentifiers(csr)
	if len(ids) == 0 {
		return nil, acme.New(acme.BadCSR, csrNoIdentifiers)
	}
	if maxNames > 0 && len(ids) > maxNames {
		return nil, acme.New(acme.BadCSR, csrTooManyFormat, maxNames)
	}
	return ids, nil
}

// CSRIdentifiers returns the identifiers a CSR asks for, Canonical: its
// dNSName SANs, its CommonName (as a DNS name) and its iPAddress SANs
// (Boulder's identifier.FromCSR). An order's identifiers must equal this set.
func CSRIdentifiers(csr *x509.CertificateRequest) []acme.Identifier {
	ids := make([]acme.Identifier, 0, len(csr.DNSNames)+len(csr.IPAddresses)+1)
	for _, name := range csr.DNSNames {
		ids = append(ids, acme.Identifier{Type: acme.TypeDNS, Value: name})
	}
	if cn := csr.Subject.CommonName; cn != "" {
		ids = append(ids, acme.Identifier{Type: acme.TypeDNS, Value: cn})
	}
	for _, ip := range csr.IPAddresses {
		ids = append(ids, acme.Identifier{Type: acme.TypeIP, Value: ip.String()})
	}
	return Canonical(ids)
}

// CommonName returns the subject CN a classic-profile certificate gets for
// csr (Boulder's csr.CNFromCSR): the CSR's CN lower-cased if it is at most 64
// bytes and not an IP address; with no CN, the first dNSName SAN of at most
// 64 bytes; otherwise "" (no CN). IP addresses never become the CN.
func CommonName(csr *x509.CertificateRequest) string {
	if cn := csr.Subject.CommonName; cn != "" {
		if len(cn) > maxCNLength {
			return ""
		}
		if _, err := netip.ParseAddr(cn); err == nil {
			return ""
		}
		return strings.ToLower(cn)
	}
	for _, name := range csr.DNSNames {
		if len(name) <= maxCNLength {
			return strings.ToLower(name)
		}
	}
	return ""
}

// sameKey compares two keys by SubjectPublicKeyInfo, as Boulder's
// core.KeyDigestEquals does. Keys that cannot be encoded are not equal.
func sameKey(a, b crypto.PublicKey) bool {
	ha, errA := KeyHash(a)
	hb, errB := KeyHash(b)
	return errA == nil && errB == nil && ha == hb
}
