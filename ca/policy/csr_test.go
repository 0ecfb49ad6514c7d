package policy

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

func makeCSR(t *testing.T, key crypto.Signer, tmpl x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

var mustStaple = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}

// csrCase is one finalize request: a CSR template signed by key, checked
// against the order example.com + www.example.com unless ids is set.
type csrCase struct {
	name    string
	cfg     Config
	key     crypto.Signer
	tmpl    x509.CertificateRequest
	mutate  func(*x509.CertificateRequest)
	ids     []acme.Identifier
	max     int
	blocked KeyBlockedFunc
	typ     acme.ErrorType
	detail  string
}

func withSANs(tmpl x509.CertificateRequest) x509.CertificateRequest {
	tmpl.DNSNames = []string{"example.com", "www.example.com"}
	return tmpl
}

// csrKeyCases cover accepted CSRs and the checks up to the signature.
func csrKeyCases(t *testing.T, k testKeys) []csrCase {
	blockedHash, err := KeyHash(k.p384.Public())
	if err != nil {
		t.Fatal(err)
	}
	blocked := func(h string) (bool, error) { return h == blockedHash, nil }
	flipSig := func(c *x509.CertificateRequest) { c.Signature[len(c.Signature)/2] ^= 0xff }
	return []csrCase{
		{name: "RSA, SANs only", key: k.rsa2048, tmpl: withSANs(x509.CertificateRequest{})},
		{name: "ECDSA, CN among SANs, mixed case", key: k.p256,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "WWW.Example.com"}, DNSNames: []string{"Example.COM", "www.example.com"}}},
		{name: "CN only", key: k.p256, tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}},
			ids: []acme.Identifier{dns("example.com")}},
		{name: "IP SAN, private address allowed", key: k.p256, tmpl: x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP("192.168.1.10")}},
			ids: []acme.Identifier{ip("192.168.1.10")}},
		{name: "Ed25519 allowed by flag", cfg: Config{AllowEd25519CSR: true}, key: k.ed, tmpl: withSANs(x509.CertificateRequest{})},
		{name: "P-384 with a KeyBlocked that blocks another key", key: k.p384, tmpl: withSANs(x509.CertificateRequest{}),
			blocked: func(string) (bool, error) { return false, nil }},

		{name: "must-staple", key: k.p256, tmpl: withSANs(x509.CertificateRequest{ExtraExtensions: []pkix.Extension{mustStaple}}),
			typ: acme.Unauthorized, detail: "OCSP must-staple extension is no longer available: see https://letsencrypt.org/2024/12/05/ending-ocsp"},
		{name: "must-staple checked before the key", key: k.rsa1024, tmpl: withSANs(x509.CertificateRequest{ExtraExtensions: []pkix.Extension{mustStaple}}),
			typ: acme.Unauthorized, detail: "OCSP must-staple extension is no longer available: see https://letsencrypt.org/2024/12/05/ending-ocsp"},
		{name: "TLS feature without status_request", key: k.p256,
			tmpl: withSANs(x509.CertificateRequest{ExtraExtensions: []pkix.Extension{{Id: mustStaple.Id, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x11}}}})},
		{name: "RSA 1024", key: k.rsa1024, tmpl: withSANs(x509.CertificateRequest{}),
			typ: acme.BadCSR, detail: "invalid public key in CSR: key size not supported: 1024"},
		{name: "P-521", key: k.p521, tmpl: withSANs(x509.CertificateRequest{}),
			typ: acme.BadCSR, detail: "invalid public key in CSR: ECDSA curve P-521 not allowed"},
		{name: "Ed25519 like LE", key: k.ed, tmpl: withSANs(x509.CertificateRequest{}),
			typ: acme.BadCSR, detail: "invalid public key in CSR: unsupported key type ed25519.PublicKey"},
		{name: "blocked key", key: k.p384, tmpl: withSANs(x509.CertificateRequest{}), blocked: blocked,
			typ: acme.BadCSR, detail: "invalid public key in CSR: public key is forbidden"},
		{name: "SHA-1 with RSA", key: k.rsa2048, tmpl: withSANs(x509.CertificateRequest{SignatureAlgorithm: x509.SHA1WithRSA}),
			typ: acme.BadCSR, detail: "signature algorithm not supported"},
		{name: "ECDSA with SHA-1", key: k.p256, tmpl: withSANs(x509.CertificateRequest{SignatureAlgorithm: x509.ECDSAWithSHA1}),
			typ: acme.BadCSR, detail: "signature algorithm not supported"},
		{name: "RSA-PSS", key: k.rsa2048, tmpl: withSANs(x509.CertificateRequest{SignatureAlgorithm: x509.SHA256WithRSAPSS}),
			typ: acme.BadCSR, detail: "signature algorithm not supported"},
		{name: "bad signature", key: k.p256, tmpl: withSANs(x509.CertificateRequest{}), mutate: flipSig,
			typ: acme.BadCSR, detail: "invalid signature on CSR"},
		{name: "signature checked before contents", key: k.p256,
			tmpl: withSANs(x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}}), mutate: flipSig,
			typ: acme.BadCSR, detail: "invalid signature on CSR"},
	}
}

// csrContentCases cover the checks on names and the account key.
func csrContentCases(k testKeys) []csrCase {
	return []csrCase{
		{name: "email", key: k.p256, tmpl: withSANs(x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}}),
			typ: acme.BadCSR, detail: "CSR contains one or more email address fields"},
		{name: "URI", key: k.p256, tmpl: withSANs(x509.CertificateRequest{URIs: []*url.URL{{Scheme: "https", Host: "example.com"}}}),
			typ: acme.BadCSR, detail: "CSR contains one or more URI fields"},
		{name: "IPv4 CN", key: k.p256,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "8.8.8.8"}, IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}},
			ids:  []acme.Identifier{ip("8.8.8.8")}, typ: acme.BadCSR, detail: "CSR contains IP address in Common Name"},
		{name: "IPv6 CN", key: k.p256, tmpl: withSANs(x509.CertificateRequest{Subject: pkix.Name{CommonName: "2001:4860::8888"}}),
			typ: acme.BadCSR, detail: "CSR contains IP address in Common Name"},
		{name: "no names", key: k.p256, tmpl: x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"x"}}},
			typ: acme.BadCSR, detail: "at least one identifier is required"},
		{name: "too many names", key: k.p256, tmpl: withSANs(x509.CertificateRequest{}), max: 1,
			typ: acme.BadCSR, detail: "CSR identifier count is not at minimum 1 or at maximum 1"},
		{name: "duplicates count once", key: k.p256,
			tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "example.com"}, DNSNames: []string{"EXAMPLE.com", "example.com"}},
			ids:  []acme.Identifier{dns("example.com")}, max: 1},
		{name: "bad name", key: k.p256, tmpl: x509.CertificateRequest{DNSNames: []string{"exa_mple.com"}}, ids: []acme.Identifier{dns("exa_mple.com")},
			typ: acme.RejectedIdentifier, detail: `Cannot issue for "exa_mple.com": Domain name contains an invalid character`},
		{name: "blocklisted name", cfg: Config{Blocklist: []string{"www.example.com"}}, key: k.p256, tmpl: withSANs(x509.CertificateRequest{}),
			typ: acme.RejectedIdentifier, detail: `Cannot issue for "www.example.com": The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy`},
		{name: "name missing", key: k.p256, tmpl: x509.CertificateRequest{DNSNames: []string{"example.com"}},
			typ: acme.Unauthorized, detail: "CSR does not specify same identifiers as Order"},
		{name: "extra name", key: k.p256, tmpl: x509.CertificateRequest{DNSNames: []string{"example.com", "www.example.com", "api.example.com"}},
			typ: acme.Unauthorized, detail: "CSR does not specify same identifiers as Order"},
		{name: "CN outside the order", key: k.p256, tmpl: withSANs(x509.CertificateRequest{Subject: pkix.Name{CommonName: "api.example.com"}}),
			typ: acme.Unauthorized, detail: "CSR does not specify same identifiers as Order"},
		{name: "IP in the order, DNS in the CSR", key: k.p256, tmpl: x509.CertificateRequest{DNSNames: []string{"example.com"}},
			ids: []acme.Identifier{ip("8.8.8.8")}, typ: acme.Unauthorized, detail: "CSR does not specify same identifiers as Order"},
		{name: "account key", key: k.p256b, tmpl: withSANs(x509.CertificateRequest{}),
			typ: acme.Malformed, detail: "certificate public key must be different than account key"},
		{name: "identifiers checked before account key", key: k.p256b, tmpl: x509.CertificateRequest{DNSNames: []string{"example.com"}},
			typ: acme.Unauthorized, detail: "CSR does not specify same identifiers as Order"},
	}
}

// TestCheckCSR is the golden table for every finalize text and for the order
// in which CheckCSR applies its checks.
func TestCheckCSR(t *testing.T) {
	k := newTestKeys(t)
	for _, tc := range append(csrKeyCases(t, k), csrContentCases(k)...) {
		t.Run(tc.name, func(t *testing.T) {
			csr := makeCSR(t, tc.key, tc.tmpl)
			if tc.mutate != nil {
				tc.mutate(csr)
			}
			ids := tc.ids
			if ids == nil {
				ids = []acme.Identifier{dns("example.com"), dns("www.example.com")}
			}
			maxNames := tc.max
			if maxNames == 0 {
				maxNames = 100
			}
			p := mustNew(t, tc.cfg)
			err := p.CheckCSR(CSRRequest{CSR: csr, OrderIdentifiers: ids, AccountKey: k.p256b.Public(),
				MaxNames: maxNames, KeyBlocked: tc.blocked})
			wantProblem(t, err, tc.typ, tc.detail)
		})
	}
}

func TestCheckCSRPlainErrors(t *testing.T) {
	k := newTestKeys(t)
	errLookup := errors.New("store down")
	csr := makeCSR(t, k.p256, x509.CertificateRequest{DNSNames: []string{"example.com"}})
	var p Policy
	tests := []struct {
		name string
		req  CSRRequest
		is   error
	}{
		{"failed blocked-key lookup", CSRRequest{CSR: csr, OrderIdentifiers: []acme.Identifier{dns("example.com")},
			KeyBlocked: func(string) (bool, error) { return false, errLookup }}, errLookup},
		{"no CSR", CSRRequest{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckCSR(tc.req)
			if _, isProblem := acme.As(err); err == nil || isProblem {
				t.Fatalf("got %v, want a plain error", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want it to wrap %v", err, tc.is)
			}
		})
	}
}

func TestParseCSR(t *testing.T) {
	_, err := ParseCSR([]byte{0xc0, 0xff, 0xee})
	wantProblem(t, err, acme.BadCSR, "unable to parse CSR: asn1: syntax error: truncated tag or length")
}

func TestCSRIdentifiers(t *testing.T) {
	k := newTestKeys(t)
	csr := makeCSR(t, k.p256, x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "Example.com"},
		DNSNames:    []string{"www.EXAMPLE.com", "example.com"},
		IPAddresses: []net.IP{net.ParseIP("2001:4860::8888"), net.ParseIP("8.8.8.8")},
	})
	want := []acme.Identifier{dns("example.com"), dns("www.example.com"), ip("2001:4860::8888"), ip("8.8.8.8")}
	if got := CSRIdentifiers(csr); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestCommonName(t *testing.T) {
	long := strings.Repeat("a", 61) + ".com" // 65 bytes
	tests := []struct {
		name string
		csr  x509.CertificateRequest
		want string
	}{
		{"CN kept, lower-cased", x509.CertificateRequest{Subject: pkix.Name{CommonName: "WWW.Example.com"}, DNSNames: []string{"example.com"}}, "www.example.com"},
		{"first SAN promoted", x509.CertificateRequest{DNSNames: []string{"A.example.com", "b.example.com"}}, "a.example.com"},
		{"long SAN skipped", x509.CertificateRequest{DNSNames: []string{long, "b.example.com"}}, "b.example.com"},
		{"long CN dropped", x509.CertificateRequest{Subject: pkix.Name{CommonName: long}, DNSNames: []string{"b.example.com"}}, ""},
		{"IP CN dropped", x509.CertificateRequest{Subject: pkix.Name{CommonName: "8.8.8.8"}}, ""},
		{"IP SAN never promoted", x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP("8.8.8.8")}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CommonName(&tc.csr); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
