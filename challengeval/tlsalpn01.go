package challengeval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

// tls-alpn-01 (RFC 8737, RFC 8738) protocol constants.
const (
	acmeTLS1Protocol  = "acme-tls/1"
	oidACMEIdentifier = "1.3.6.1.5.5.7.1.31" // id-pe-acmeIdentifier
	oidSubjectAltName = "2.5.29.17"
)

// Boulder's tls-alpn-01 texts (va/tlsalpn.go), verbatim.
const (
	noALPNFormat  = "Cannot negotiate ALPN protocol %q for %s challenge"
	noCertsFormat = "No certs presented for %s challenge"
	// badCertFormat is filled with the challenge type, the identifier, the
	// ip:port connected to and one of the reason texts below.
	badCertFormat            = "Incorrect validation certificate for %s challenge. Requested %s from %s. %s"
	reasonNotSelfSigned      = "Received certificate which is not self-signed."
	reasonExtensionsFormat   = "Received certificate with unexpected extensions: %q"
	reasonIdentifiersFormat  = "Received certificate with unexpected identifiers (%q): %q"
	reasonNotCritical        = "Received certificate with acmeValidationV1 extension that is not Critical."
	reasonMalformedExtension = "Received certificate with malformed acmeValidationV1 extension value."
	reasonWrongValueFormat   = "Received certificate with acmeValidationV1 extension value %s but expected %s."
	reasonNoExtension        = "Received certificate with no acmeValidationV1 extension."
	extSeenTwiceFormat       = "Extension OID %s seen twice"
	extMissingFormat         = "Required extension OID %s is not present"
	sanWrongCount            = "wrong number of identifiers"
	sanWrongIdentifier       = "identifier does not match expected identifier"
	sanWrongBytes            = "SAN extension does not match expected bytes"
	noFallbackFormat         = "Unable to contact %q at %q, no IPv4 addresses to try as fallback"
	tlsALPNBadIdentifier     = "Identifier type for TLS-ALPN-01 challenge was not DNS or IP"
	badIPFormat              = "can't parse IP address %q"
)

// validateTLSALPN01 connects with ALPN "acme-tls/1" and checks the
// self-signed validation certificate presented.
func (v *Validator) validateTLSALPN01(ctx context.Context, id acme.Identifier, keyAuthz string) error {
	var addrs []netip.Addr
	switch id.Type {
	case acme.TypeDNS:
		var err error
		if addrs, err = v.LookupHost(ctx, id.Value); err != nil {
			return err
		}
	case acme.TypeIP:
		a, err := netip.ParseAddr(id.Value)
		if err != nil {
			return acme.New(acme.Malformed, badIPFormat, id.Value)
		}
		addrs = []netip.Addr{a}
	default:
		return acme.New(acme.Malformed, tlsALPNBadIdentifier)
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.HTTPTimeout)
	defer cancel()
	cert, cs, used, err := v.challengeCert(ctx, id, addrs)
	if err != nil {
		return err
	}
	if cs.NegotiatedProtocol != acmeTLS1Protocol {
		return acme.New(acme.Unauthorized, noALPNFormat, acmeTLS1Protocol, acme.ChallengeTLSALPN01)
	}
	if reason := certProblem(cert, id, keyAuthz); reason != "" {
		hostPort := net.JoinHostPort(used.String(), strconv.Itoa(v.cfg.TLSALPN01Port))
		return acme.New(acme.Unauthorized, badCertFormat, acme.ChallengeTLSALPN01, id.Value, hostPort, reason)
	}
	return nil
}

// challengeCert tries the first IPv6 address, then once the first IPv4
// address, as Boulder does, and returns the leaf and the address it came from.
func (v *Validator) challengeCert(ctx context.Context, id acme.Identifier, addrs []netip.Addr) (*x509.Certificate, tls.ConnectionState, netip.Addr, error) {
	sni := id.Value
	if id.Type == acme.TypeIP {
		// RFC 8738 §6: the SNI is the reverse-DNS name of the address.
		rev, err := dns.ReverseAddr(id.Value)
		if err != nil {
			return nil, tls.ConnectionState{}, netip.Addr{}, acme.New(acme.Malformed, badIPFormat, id.Value)
		}
		sni = strings.TrimSuffix(rev, ".")
	}
	v4, v6 := firstOf(addrs, true), firstOf(addrs, false)
	if v6.IsValid() {
		cert, cs, err := v.getCert(ctx, v6, sni)
		if err == nil {
			return cert, cs, v6, nil
		}
		v.log.DebugContext(ctx, "tls-alpn-01 over IPv6 failed", "identifier", id.String(), "cause", err.Error())
		if !v4.IsValid() {
			return nil, tls.ConnectionState{}, v6, acme.New(acme.Malformed, noFallbackFormat, id.Value, v6.String())
		}
	}
	cert, cs, err := v.getCert(ctx, v4, sni)
	return cert, cs, v4, err
}

// getCert makes one TLS connection and returns the first certificate.
func (v *Validator) getCert(ctx context.Context, addr netip.Addr, sni string) (*x509.Certificate, tls.ConnectionState, error) {
	dest := net.JoinHostPort(addr.String(), strconv.Itoa(v.cfg.TLSALPN01Port))
	raw, err := dialShaved(ctx, "tcp", dest)
	if err != nil {
		return nil, tls.ConnectionState{}, addrError{addr, err}
	}
	defer func() { _ = raw.Close() }()
	conn := tls.Client(raw, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{acmeTLS1Protocol},
		ServerName: sni,
		// The validation certificate is self-signed by design.
		InsecureSkipVerify: true,
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, tls.ConnectionState{}, addrError{addr, err}
	}
	cs := conn.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return nil, cs, acme.New(acme.Unauthorized, noCertsFormat, acme.ChallengeTLSALPN01)
	}
	return cs.PeerCertificates[0], cs, nil
}

// certProblem returns the reason cert is not a valid RFC 8737 validation
// certificate for id and keyAuthz, or "".
func certProblem(cert *x509.Certificate, id acme.Identifier, keyAuthz string) string {
	if cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil ||
		!bytes.Equal(cert.RawSubject, cert.RawIssuer) {
		return reasonNotSelfSigned
	}
	if problem := extensionsProblem(cert.Extensions); problem != "" {
		return fmt.Sprintf(reasonExtensionsFormat, problem)
	}
	if err := checkSAN(cert, id); err != nil {
		return fmt.Sprintf(reasonIdentifiersFormat, strings.Join(certNames(cert), ", "), err.Error())
	}
	want := sha256.Sum256([]byte(keyAuthz))
	for _, ext := range cert.Extensions {
		if ext.Id.String() != oidACMEIdentifier {
			continue
		}
		if !ext.Critical {
			return reasonNotCritical
		}
		var got []byte
		rest, err := asn1.Unmarshal(ext.Value, &got)
		if err != nil || len(rest) > 0 || len(got) != len(want) {
			return reasonMalformedExtension
		}
		if subtle.ConstantTimeCompare(got, want[:]) != 1 {
			return fmt.Sprintf(reasonWrongValueFormat, hex.EncodeToString(got), hex.EncodeToString(want[:]))
		}
		return ""
	}
	return reasonNoExtension
}

// extensionsProblem requires the SAN and acmeIdentifier extensions and no
// repeated extension; others are allowed (RFC 8737 §3). It returns "" or
// what is wrong.
func extensionsProblem(exts []pkix.Extension) string {
	seen := map[string]bool{}
	for _, e := range exts {
		oid := e.Id.String()
		if seen[oid] {
			return fmt.Sprintf(extSeenTwiceFormat, oid)
		}
		seen[oid] = true
	}
	for _, oid := range []string{oidACMEIdentifier, oidSubjectAltName} {
		if !seen[oid] {
			return fmt.Sprintf(extMissingFormat, oid)
		}
	}
	return ""
}

// checkSAN requires exactly one SAN, equal to the identifier, encoded as
// Boulder encodes it.
func checkSAN(cert *x509.Certificate, id acme.Identifier) error {
	var want asn1.RawValue
	switch id.Type {
	case acme.TypeIP:
		ip, err := netip.ParseAddr(id.Value)
		if err != nil {
			return err
		}
		if len(cert.IPAddresses) != 1 || len(cert.DNSNames) != 0 {
			return errors.New(sanWrongCount)
		}
		if got, ok := netip.AddrFromSlice(cert.IPAddresses[0]); !ok || got.Unmap() != ip.Unmap() {
			return errors.New(sanWrongIdentifier)
		}
		want = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip.AsSlice()}
	default:
		if len(cert.DNSNames) != 1 || len(cert.IPAddresses) != 0 {
			return errors.New(sanWrongCount)
		}
		if !strings.EqualFold(cert.DNSNames[0], id.Value) {
			return errors.New(sanWrongIdentifier)
		}
		want = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(id.Value)}
	}
	wantDER, err := asn1.Marshal([]asn1.RawValue{want})
	if err != nil {
		return fmt.Errorf("composing SAN extension: %w", err)
	}
	for _, ext := range cert.Extensions {
		if ext.Id.String() == oidSubjectAltName && !bytes.Equal(ext.Value, wantDER) {
			return errors.New(sanWrongBytes)
		}
	}
	return nil
}

// certNames lists a certificate's subject names, lower-cased, sorted and
// without duplicates, for error messages.
func certNames(cert *x509.Certificate) []string {
	var names []string
	if cert.Subject.CommonName != "" {
		names = append(names, cert.Subject.CommonName)
	}
	names = append(names, cert.DNSNames...)
	names = append(names, cert.EmailAddresses...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	slices.Sort(names)
	return slices.Compact(names)
}
