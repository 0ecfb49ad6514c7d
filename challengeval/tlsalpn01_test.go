package challengeval

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// acmeExtension builds the id-pe-acmeIdentifier extension for keyAuthz.
func acmeExtension(t *testing.T, keyAuthz string, critical bool) pkix.Extension {
	t.Helper()
	sum := sha256.Sum256([]byte(keyAuthz))
	der, err := asn1.Marshal(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}, Critical: critical, Value: der}
}

// makeCert signs tmpl with parent's key (self-signed when parent is nil)
// and returns it with its key.
func makeCert(t *testing.T, tmpl *x509.Certificate, parent *tls.Certificate) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.NotBefore = time.Unix(1e9, 0)
	tmpl.NotAfter = tmpl.NotBefore.Add(100 * 365 * 24 * time.Hour)
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Leaf, parent.PrivateKey.(crypto.Signer)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// alpnServer is a TLS-ALPN-01 responder presenting one certificate.
type alpnServer struct {
	addr string
	mu   sync.Mutex
	sni  []string
}

// names returns the SNI names seen so far.
func (s *alpnServer) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sni...)
}

func startALPN(t *testing.T, listen string, cert tls.Certificate, protos []string) *alpnServer {
	t.Helper()
	s := &alpnServer{}
	cfg := &tls.Config{
		NextProtos: protos,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			s.mu.Lock()
			s.sni = append(s.sni, hello.ServerName)
			s.mu.Unlock()
			return &cert, nil
		},
	}
	l, err := tls.Listen("tcp", listen, cfg)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", listen, err)
	}
	s.addr = l.Addr().String()
	serveRaw(t, l, func(c net.Conn) {
		_ = c.(*tls.Conn).Handshake()
		_ = c.Close()
	})
	return s
}

func TestTLSALPN01(t *testing.T) {
	ext := acmeExtension(t, testKeyAuthz, true)
	dnsCert := func(names ...string) func(t *testing.T) tls.Certificate {
		return func(t *testing.T) tls.Certificate {
			return makeCert(t, &x509.Certificate{DNSNames: names, ExtraExtensions: []pkix.Extension{ext}}, nil)
		}
	}
	withExt := func(e pkix.Extension) func(t *testing.T) tls.Certificate {
		return func(t *testing.T) tls.Certificate {
			return makeCert(t, &x509.Certificate{DNSNames: []string{"a.test"}, ExtraExtensions: []pkix.Extension{e}}, nil)
		}
	}
	wrongSum := sha256.Sum256([]byte("other"))
	gotSum := sha256.Sum256([]byte(testKeyAuthz))
	acmeProtos := []string{acmeTLS1Protocol}
	tests := []struct {
		name       string
		cert       func(t *testing.T) tls.Certificate
		protos     []string
		wantType   acme.ErrorType
		wantReason string // after "Requested a.test from <addr>. "
		wantDetail string // instead of wantReason, with %s for the address
	}{
		{name: "valid", cert: dnsCert("a.test"), protos: acmeProtos},
		{name: "valid with extra ALPN protocols", cert: dnsCert("a.test"), protos: []string{"h2", acmeTLS1Protocol}},
		{name: "no ALPN negotiated", cert: dnsCert("a.test"), wantType: acme.Unauthorized,
			wantDetail: `Cannot negotiate ALPN protocol "acme-tls/1" for tls-alpn-01 challenge`},
		{name: "ALPN refused by server", cert: dnsCert("a.test"), protos: []string{"h2"}, wantType: acme.TLS,
			wantDetail: "127.0.0.1: remote error: tls: no application protocol"},
		{name: "SAN for another name", cert: dnsCert("other.test"), protos: acmeProtos, wantType: acme.Unauthorized,
			wantReason: `Received certificate with unexpected identifiers ("other.test"): "identifier does not match expected identifier"`},
		{name: "two SANs", cert: dnsCert("b.test", "a.test"), protos: acmeProtos, wantType: acme.Unauthorized,
			wantReason: `Received certificate with unexpected identifiers ("a.test, b.test"): "wrong number of identifiers"`},
		{name: "SAN differs in case", cert: dnsCert("A.Test"), protos: acmeProtos, wantType: acme.Unauthorized,
			wantReason: `Received certificate with unexpected identifiers ("a.test"): "SAN extension does not match expected bytes"`},
		{name: "no acmeIdentifier extension", protos: acmeProtos, wantType: acme.Unauthorized,
			cert: func(t *testing.T) tls.Certificate {
				return makeCert(t, &x509.Certificate{DNSNames: []string{"a.test"}}, nil)
			},
			wantReason: `Received certificate with unexpected extensions: "Required extension OID 1.3.6.1.5.5.7.1.31 is not present"`},
		{name: "acmeIdentifier not critical", cert: withExt(acmeExtension(t, testKeyAuthz, false)), protos: acmeProtos,
			wantType: acme.Unauthorized, wantReason: "Received certificate with acmeValidationV1 extension that is not Critical."},
		{name: "acmeIdentifier for another key authorization", cert: withExt(acmeExtension(t, "other", true)), protos: acmeProtos,
			wantType: acme.Unauthorized, wantReason: fmt.Sprintf("Received certificate with acmeValidationV1 extension value %x but expected %x.", wrongSum, gotSum)},
		{name: "acmeIdentifier not an OCTET STRING of 32 bytes", protos: acmeProtos, wantType: acme.Unauthorized,
			cert:       withExt(pkix.Extension{Id: ext.Id, Critical: true, Value: []byte{0x04, 0x01, 0x00}}),
			wantReason: "Received certificate with malformed acmeValidationV1 extension value."},
		{name: "not self-signed", protos: acmeProtos, wantType: acme.Unauthorized,
			cert: func(t *testing.T) tls.Certificate {
				ca := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "CA"}, IsCA: true,
					BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil)
				return makeCert(t, &x509.Certificate{DNSNames: []string{"a.test"}, ExtraExtensions: []pkix.Extension{ext}}, &ca)
			},
			wantReason: "Received certificate which is not self-signed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startALPN(t, "127.0.0.1:0", tt.cert(t), tt.protos)
			v := newValidator(t, Config{SkipCAA: true, TLSALPN01Port: port(t, srv.addr), Resolvers: []string{"127.0.0.1:1"},
				HostOverrides: []HostOverride{{Pattern: "a.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}})
			err := validate(t, v, Request{Type: acme.ChallengeTLSALPN01, Token: testToken, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
			detail := tt.wantDetail
			if tt.wantReason != "" {
				detail = fmt.Sprintf("Incorrect validation certificate for tls-alpn-01 challenge. Requested a.test from %s. %s", srv.addr, tt.wantReason)
			}
			checkProblem(t, err, tt.wantType, detail)
			// A server refusing the ALPN protocol never picks a certificate.
			if sni := srv.names(); len(sni) > 0 && sni[0] != "a.test" {
				t.Errorf("SNI %q, want a.test", sni)
			}
		})
	}
}

func TestTLSALPN01IPIdentifiers(t *testing.T) {
	tests := []struct {
		name, ip, listen, wantSNI string
	}{
		{name: "IPv4", ip: "127.0.0.1", listen: "127.0.0.1:0", wantSNI: "1.0.0.127.in-addr.arpa"},
		{name: "IPv6", ip: "::1", listen: "[::1]:0",
			wantSNI: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := makeCert(t, &x509.Certificate{IPAddresses: []net.IP{net.ParseIP(tt.ip)},
				ExtraExtensions: []pkix.Extension{acmeExtension(t, testKeyAuthz, true)}}, nil)
			srv := startALPN(t, tt.listen, cert, []string{acmeTLS1Protocol})
			v := newValidator(t, Config{SkipCAA: true, TLSALPN01Port: port(t, srv.addr), Resolvers: []string{"127.0.0.1:1"}})
			id := acme.Identifier{Type: acme.TypeIP, Value: tt.ip}
			checkProblem(t, validate(t, v, Request{Type: acme.ChallengeTLSALPN01, Identifier: id, KeyAuthorization: testKeyAuthz}), "", "")
			if sni := srv.names(); len(sni) != 1 || sni[0] != tt.wantSNI {
				t.Errorf("SNI %q, want %q", sni, tt.wantSNI)
			}
			// The same certificate does not validate another address.
			other := acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}
			v = newValidator(t, Config{SkipCAA: true, TLSALPN01Port: port(t, srv.addr), Resolvers: []string{"127.0.0.1:1"},
				HostOverrides: []HostOverride{{Pattern: "a.test", Addrs: []netip.Addr{netip.MustParseAddr(tt.ip)}}}})
			checkProblem(t, validate(t, v, Request{Type: acme.ChallengeTLSALPN01, Identifier: other, KeyAuthorization: testKeyAuthz}),
				acme.Unauthorized, fmt.Sprintf("Incorrect validation certificate for tls-alpn-01 challenge. Requested a.test from %s. "+
					`Received certificate with unexpected identifiers (%q): "wrong number of identifiers"`, srv.addr, tt.ip))
		})
	}
}

// TestTLSALPN01Network covers connection failures and the IPv6 → IPv4
// fallback.
func TestTLSALPN01Network(t *testing.T) {
	good := makeCert(t, &x509.Certificate{DNSNames: []string{"a.test"},
		ExtraExtensions: []pkix.Extension{acmeExtension(t, testKeyAuthz, true)}}, nil)
	loop4, loop6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		name       string
		needV6     bool
		peer       func(t *testing.T) int
		addrs      []netip.Addr
		timeout    time.Duration
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "connection refused", peer: closedPort, addrs: []netip.Addr{loop4},
			wantType: acme.Connection, wantDetail: "127.0.0.1: Connection refused"},
		{name: "server speaks plain HTTP", addrs: []netip.Addr{loop4},
			peer: func(t *testing.T) int {
				s := httptest.NewServer(nil)
				t.Cleanup(s.Close)
				return port(t, s.Listener.Addr().String())
			},
			wantType: acme.Malformed, wantDetail: "127.0.0.1: Server only speaks HTTP, not TLS"},
		{name: "handshake never completes", addrs: []netip.Addr{loop4}, timeout: 300 * time.Millisecond,
			peer: func(t *testing.T) int {
				return port(t, hangingListener(t, "tcp", "127.0.0.1:0").Addr().String())
			},
			wantType: acme.Connection, wantDetail: "127.0.0.1: Timeout after connect (your server may be slow or overloaded)"},
		{name: "IPv6 refused, IPv4 answers", needV6: true, addrs: []netip.Addr{loop6, loop4},
			peer: func(t *testing.T) int {
				return port(t, startALPN(t, "127.0.0.1:0", good, []string{acmeTLS1Protocol}).addr)
			}},
		{name: "IPv6 only, refused", needV6: true, addrs: []netip.Addr{loop6}, peer: closedPort,
			wantType: acme.Malformed, wantDetail: `Unable to contact "a.test" at "::1", no IPv4 addresses to try as fallback`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needV6 && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback")
			}
			v := newValidator(t, Config{SkipCAA: true, TLSALPN01Port: tt.peer(t), Resolvers: []string{"127.0.0.1:1"}, HTTPTimeout: tt.timeout,
				HostOverrides: []HostOverride{{Pattern: "a.test", Addrs: tt.addrs}}})
			err := validate(t, v, Request{Type: acme.ChallengeTLSALPN01, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}

// TestExtensionsProblem covers a repeated extension, which Go's own
// certificate parser already rejects before the check can see it.
func TestExtensionsProblem(t *testing.T) {
	acmeID := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}}
	san := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}}
	other := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}}
	tests := []struct {
		name string
		exts []pkix.Extension
		want string
	}{
		{"both required, one extra", []pkix.Extension{san, other, acmeID}, ""},
		{"repeated", []pkix.Extension{san, acmeID, san}, "Extension OID 2.5.29.17 seen twice"},
		{"no SAN", []pkix.Extension{acmeID}, "Required extension OID 2.5.29.17 is not present"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := extensionsProblem(tt.exts); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
