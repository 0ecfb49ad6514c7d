package dnsserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ACMETLS1Protocol is the ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
const ACMETLS1Protocol = "acme-tls/1"

// idPeACMEIdentifier is the id-pe-acmeIdentifier extension (RFC 8737 §6.1).
var idPeACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// TLSALPN01 is the TLS-ALPN-01 responder: for a ClientHello that offers
// exactly ["acme-tls/1"] and names a provisioned host in SNI it presents a
// fresh self-signed certificate for that one name, with the critical
// acmeIdentifier extension holding SHA-256 of the key authorization (RFC
// 8737). IP identifiers (RFC 8738) are provisioned by address and reached
// through their reverse-DNS SNI; the certificate then has an IP SAN.
// Every ClientHello is recorded in the History. Safe for concurrent use;
// Server.TLSALPN01 returns the server's.
type TLSALPN01 struct {
	history *History
	clock   clock.PassiveClock
	key     *ecdsa.PrivateKey

	mu       sync.RWMutex
	keyAuths map[string]string // by alpnKey(host)
}

func newTLSALPN01(h *History, clk clock.PassiveClock) (*TLSALPN01, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls-alpn-01 key: %w", err)
	}
	return &TLSALPN01{history: h, clock: clk, key: key, keyAuths: map[string]string{}}, nil
}

// Add provisions the key authorization for host, a DNS name or an IP
// address (/add-tlsalpn01).
func (t *TLSALPN01) Add(host, keyAuth string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keyAuths[alpnKey(host)] = keyAuth
}

// Delete removes host's key authorization (/del-tlsalpn01).
func (t *TLSALPN01) Delete(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keyAuths, alpnKey(host))
}

// alpnKey normalizes a provisioned host: lower case without the trailing
// dot, and IP addresses in their canonical text form.
func alpnKey(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String()
	}
	return historyKey(host)
}

// TLSConfig returns the configuration for a TLS-ALPN-01 listener.
func (t *TLSALPN01) TLSConfig() *tls.Config {
	return &tls.Config{NextProtos: []string{ACMETLS1Protocol}, GetCertificate: t.certificate,
		MinVersion: tls.VersionTLS12}
}

// certificate is the GetCertificate callback. Its errors abort the
// handshake with pebble-challtestsrv's texts.
func (t *TLSALPN01) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	t.history.addTLSALPN(TLSALPNRequest{ServerName: hello.ServerName, SupportedProtos: hello.SupportedProtos})
	if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != ACMETLS1Protocol {
		return nil, fmt.Errorf("ALPN failed, ClientHelloInfo.SupportedProtos: %s", hello.SupportedProtos)
	}
	host := historyKey(hello.ServerName)
	ip, isIP := arpaToIP(host)
	if isIP {
		host = ip.String()
	}
	t.mu.RLock()
	keyAuth, ok := t.keyAuths[host]
	t.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown ClientHelloInfo.ServerName: %s", hello.ServerName)
	}
	return t.challengeCert(host, ip, isIP, keyAuth)
}

// challengeCert builds the RFC 8737 §3 certificate.
func (t *TLSALPN01) challengeCert(host string, ip netip.Addr, isIP bool, keyAuth string) (*tls.Certificate, error) {
	sum := sha256.Sum256([]byte(keyAuth))
	ext, err := asn1.Marshal(sum[:])
	if err != nil {
		return nil, fmt.Errorf("acmeIdentifier: %w", err)
	}
	now := t.clock.Now()
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "fakeca tls-alpn-01 responder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: []pkix.Extension{{Id: idPeACMEIdentifier, Critical: true, Value: ext}},
	}
	if isIP {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	} else {
		tmpl.DNSNames = []string{host}
	}
	cert, err := selfSigned(t.key, tmpl)
	if err != nil {
		return nil, fmt.Errorf("challenge certificate: %w", err)
	}
	return cert, nil
}

// arpaToIP parses a reverse-DNS name (RFC 8738 §6: the SNI of an IP
// identifier) into its address.
func arpaToIP(name string) (netip.Addr, bool) {
	if v4, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		labels := strings.Split(v4, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			n, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	}
	if v6, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		labels := strings.Split(v6, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			n, err := strconv.ParseUint(l, 16, 4)
			if err != nil || len(l) != 1 {
				return netip.Addr{}, false
			}
			b[15-i/2] |= byte(n) << (4 * (i % 2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
