package instance_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/third_party/forked/acme"
	legoacme "github.com/go-acme/lego/v5/acme"
	"golang.org/x/crypto/acme"

	"github.com/fakeca/fakeca/ca/instance"
)

// e2eShape is what a profile's leaves look like (reference §4.1).
type e2eShape struct {
	validity time.Duration // notAfter - notBefore + 1s
	cn       bool          // CN = first DNS SAN
	skid     bool
	keyEnc   bool // keyEncipherment for RSA keys
}

func e2eShapeOf(profile string) e2eShape {
	switch profile {
	case "shortlived":
		return e2eShape{validity: 160 * time.Hour}
	case "tlsserver":
		return e2eShape{validity: 45 * 24 * time.Hour}
	}
	return e2eShape{validity: 90 * 24 * time.Hour, cn: true, skid: true, keyEnc: true}
}

// e2eBackdate is how far fakeca (like Boulder) moves notBefore into the past.
const e2eBackdate = time.Hour

// e2eCheckIssued verifies a DER chain (leaf first) against the CA's bundle and
// the leaf's shape for c, and returns the leaf.
func e2eCheckIssued(t *testing.T, inst *instance.Instance, c e2eCase, der [][]byte) *x509.Certificate {
	t.Helper()
	if len(der) < 2 {
		t.Fatalf("got %d certificates, want the leaf and its chain", len(der))
	}
	certs := make([]*x509.Certificate, len(der))
	for i, d := range der {
		var err error
		if certs[i], err = x509.ParseCertificate(d); err != nil {
			t.Fatalf("certificate %d: %v", i, err)
		}
	}
	e2eCheckChain(t, inst.BundlePEM(), certs, c)
	e2eCheckShape(t, certs[0], c)
	e2eCheckAIA(t, certs[0], certs[1])
	if c.openssl {
		t.Run("openssl", func(t *testing.T) { e2eOpenSSLVerify(t, inst.BundlePEM(), der) })
	}
	return certs[0]
}

// e2eCheckChain verifies the chain with crypto/x509 and checks that the leaf
// was signed by the intermediate of its own key type.
func e2eCheckChain(t *testing.T, bundle []byte, certs []*x509.Certificate, c e2eCase) {
	t.Helper()
	leaf, iss := certs[0], certs[1]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		t.Fatal("bad bundle")
	}
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	host := strings.Replace(c.names[0], "*", "x", 1)
	opts := x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := leaf.Verify(opts); err != nil {
		t.Errorf("verify %s: %v", host, err)
	}
	wantAlg := x509.ECDSA
	if c.rsa {
		wantAlg = x509.RSA
	}
	switch {
	case !iss.IsCA || iss.PublicKeyAlgorithm != wantAlg:
		t.Errorf("chain[1] = %s (%s, CA %t), want the %s intermediate", iss.Subject, iss.PublicKeyAlgorithm, iss.IsCA, wantAlg)
	case !bytes.Equal(leaf.RawIssuer, iss.RawSubject):
		t.Errorf("leaf issuer %s, chain[1] subject %s", leaf.Issuer, iss.Subject)
	case !bytes.Equal(leaf.AuthorityKeyId, iss.SubjectKeyId):
		t.Errorf("leaf AKI %x, chain[1] SKID %x", leaf.AuthorityKeyId, iss.SubjectKeyId)
	}
	if err := leaf.CheckSignatureFrom(iss); err != nil {
		t.Errorf("leaf not signed by chain[1]: %v", err)
	}
}

// e2eCheckShape checks the leaf against its profile's shape.
func e2eCheckShape(t *testing.T, leaf *x509.Certificate, c e2eCase) {
	t.Helper()
	s := e2eShapeOf(c.profile)
	if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != s.validity {
		t.Errorf("validity %s, want %s", got, s.validity)
	}
	if d := time.Since(leaf.NotBefore) - e2eBackdate; d.Abs() > 5*time.Minute {
		t.Errorf("notBefore %s is not backdated by ~%s", leaf.NotBefore, e2eBackdate)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || len(leaf.UnknownExtKeyUsage) > 0 {
		t.Errorf("EKU %v %v, want serverAuth only", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	wantKU := x509.KeyUsageDigitalSignature
	if c.rsa && s.keyEnc {
		wantKU |= x509.KeyUsageKeyEncipherment
	}
	if leaf.KeyUsage != wantKU {
		t.Errorf("key usage %b, want %b", leaf.KeyUsage, wantKU)
	}
	wantCN := ""
	if s.cn && len(leaf.DNSNames) > 0 {
		wantCN = leaf.DNSNames[0]
	}
	if leaf.Subject.CommonName != wantCN {
		t.Errorf("CN %q, want %q", leaf.Subject.CommonName, wantCN)
	}
	if got := len(leaf.SubjectKeyId) > 0; got != s.skid {
		t.Errorf("SKID present %t, want %t", got, s.skid)
	}
	if der, err := asn1.Marshal(leaf.SerialNumber); err != nil || len(der) != 2+18 || leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %x is not a positive 18-byte integer", leaf.SerialNumber)
	}
	dv, err := x509.OIDFromInts([]uint64{2, 23, 140, 1, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.Policies) != 1 || !leaf.Policies[0].Equal(dv) {
		t.Errorf("certificate policies %v, want [%s] only", leaf.Policies, dv)
	}
	if len(leaf.OCSPServer) > 0 {
		t.Errorf("OCSP URLs %v, want none (Let's Encrypt ended OCSP)", leaf.OCSPServer)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("basic constraints: CA %t, valid %t", leaf.IsCA, leaf.BasicConstraintsValid)
	}
	got := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		got = append(got, ip.String())
	}
	want := slices.Clone(c.names)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("SANs %v, want %v", got, want)
	}
}

// e2eCheckAIA fetches the leaf's one AIA caIssuers URL and wants the
// issuer certificate in DER.
func e2eCheckAIA(t *testing.T, leaf, issuer *x509.Certificate) {
	t.Helper()
	if len(leaf.IssuingCertificateURL) != 1 {
		t.Errorf("AIA caIssuers %v, want one URL", leaf.IssuingCertificateURL)
		return
	}
	u := leaf.IssuingCertificateURL[0]
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, issuer.Raw) {
		t.Errorf("GET %s: %s, %d bytes, %v; want the issuer %s in DER", u, resp.Status, len(body), err, issuer.Subject)
	}
}

// e2eOpenSSLVerify runs `openssl verify -CAfile bundle -untrusted chain leaf`.
func e2eOpenSSLVerify(t *testing.T, bundle []byte, der [][]byte) {
	const openssl = "/usr/bin/openssl"
	if _, err := os.Stat(openssl); err != nil {
		t.Skipf("%s not available: %v", openssl, err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("bundle.pem", bundle)
	chainFile := write("chain.pem", e2ePEM(der[1:]))
	leafFile := write("leaf.pem", e2ePEM(der[:1]))
	out, err := exec.CommandContext(t.Context(), openssl, "verify", "-CAfile", caFile,
		"-untrusted", chainFile, leafFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "leaf.pem: OK") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

func e2ePEM(der [][]byte) []byte {
	var buf bytes.Buffer
	for _, d := range der {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: d})
	}
	return buf.Bytes()
}

// e2eDERs decodes every CERTIFICATE block of a PEM bundle.
func e2eDERs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
}

// e2eProblemType extracts the ACME problem type from any of the three
// clients' errors; "" if err carries none.
func e2eProblemType(err error) string {
	var xe *acme.Error
	var ce *cmacme.Error
	var le *legoacme.ProblemDetails
	var we *e2eWireProblem
	switch {
	case errors.As(err, &we):
		return we.typ
	case errors.As(err, &xe):
		return xe.ProblemType
	case errors.As(err, &ce):
		return ce.ProblemType
	case errors.As(err, &le):
		return le.Type
	}
	return ""
}

// e2eCheckRevokedTwice wants the first revocation to succeed and the second to
// fail with alreadyRevoked.
// A second revocation by the account is alreadyRevoked; one signed with the
// certificate key fails earlier, because that key is now blocked and
// refused as a JWS key (Boulder's key policy includes blocked keys).
func e2eCheckRevokedTwice(t *testing.T, byKey bool, first, second error) {
	t.Helper()
	if first != nil {
		t.Fatalf("revoke: %v", first)
	}
	want := e2eAlreadyRevoked
	if byKey {
		want = "urn:ietf:params:acme:error:badPublicKey"
	}
	if got := e2eProblemType(second); got != want {
		t.Errorf("second revoke: %v (type %q), want %s", second, got, want)
	}
}

// e2eCheckARIWindow wants a suggested window inside the validity, centred
// two thirds of the way through it, or half way for certificates valid
// less than 10 days (Boulder's RenewalInfoSimple, reference §6).
func e2eCheckARIWindow(t *testing.T, leaf *x509.Certificate, start, end time.Time) {
	t.Helper()
	if !leaf.NotBefore.Before(start) || !start.Before(end) || !end.Before(leaf.NotAfter) {
		t.Fatalf("suggested window [%s, %s] not inside validity [%s, %s]", start, end, leaf.NotBefore, leaf.NotAfter)
	}
	validity := leaf.NotAfter.Sub(leaf.NotBefore)
	offset := validity / 3
	if validity < 10*24*time.Hour {
		offset = validity / 2
	}
	ideal := leaf.NotAfter.Add(-offset)
	if mid := start.Add(end.Sub(start) / 2); mid.Sub(ideal).Abs() > 2*time.Hour {
		t.Errorf("suggested window centred on %s, want about %s", mid, ideal)
	}
}
