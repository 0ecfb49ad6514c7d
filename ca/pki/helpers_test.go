package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// Extension OIDs checked by the tests, in dotted form.
const (
	oidKU       = "2.5.29.15"
	oidBC       = "2.5.29.19"
	oidSAN      = "2.5.29.17"
	oidSKID     = "2.5.29.14"
	oidAKI      = "2.5.29.35"
	oidPolicies = "2.5.29.32"
	oidAIA      = "1.3.6.1.5.5.7.1.1"
	oidCRLDP    = "2.5.29.31"
	oidDV       = "2.23.140.1.2.1"
)

// testStart is the fake clock's start for every test.
func testStart() time.Time {
	return time.Date(2026, 7, 20, 12, 0, 0, 0, time.UTC)
}

// newHierarchy builds a Hierarchy on a fake clock at testStart.
func newHierarchy(t testing.TB, cfg Config) (*Hierarchy, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(testStart())
	h, err := New(cfg, Deps{Clock: clk})
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return h, clk
}

// newTestKey generates a key: "rsa" (2048), "p256", "p384" or "ed25519".
func newTestKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kind {
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ext reports whether cert has the extension oid and whether it is critical.
func ext(cert *x509.Certificate, oid string) (present, critical bool) {
	for _, e := range cert.Extensions {
		if e.Id.String() == oid {
			return true, e.Critical
		}
	}
	return false, false
}

// verify checks leaf against the BundlePEM roots, with chain as
// intermediates, for serverAuth at time at, and returns the chains found.
func verify(t *testing.T, h *Hierarchy, leaf *x509.Certificate, chain []*x509.Certificate, at time.Time) [][]*x509.Certificate {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(h.BundlePEM()) {
		t.Fatal("BundlePEM has no certificates")
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	got, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return got
}

// issue issues a classic leaf for key with the given names or fails the test.
func issue(t testing.TB, h *Hierarchy, key crypto.Signer, prof Profile, names ...string) Leaf {
	t.Helper()
	leaf, err := h.Issue(LeafRequest{PublicKey: key.Public(), DNSNames: names, Profile: prof})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return leaf
}
