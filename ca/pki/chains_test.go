package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestChainShape checks ChainLength and AlternateRoots: how many chains
// each issuer has, how long they are, that each verifies under exactly its
// own root (Go and openssl), and that every chain's first certificate is
// the issuer's subject and key.
func TestChainShape(t *testing.T) {
	h, clk := newHierarchy(t, Config{ChainLength: 3, AlternateRoots: 2})
	roots := h.Roots()
	if len(roots) != 4 {
		t.Fatalf("Roots: %d, want 4", len(roots))
	}
	if n := bytes.Count(h.BundlePEM(), []byte("BEGIN CERTIFICATE")); n != 4 {
		t.Fatalf("BundlePEM: %d certificates, want 4", n)
	}
	for _, name := range []string{"fakeca Fake Root X1 Alternate 1", "fakeca Fake Root X1 Alternate 2"} {
		if !strings.Contains(roots[2].Subject.CommonName+roots[3].Subject.CommonName, name) {
			t.Errorf("alternate roots %q, %q: want %q", roots[2].Subject.CommonName, roots[3].Subject.CommonName, name)
		}
	}
	// Chain i ends below wantRoot[i] (the ECDSA default chain, through the
	// cross-signed ECDSA root, also below root 1: alsoRoot); lengths count
	// intermediates and that cross-signed root.
	tests := []struct {
		key      string
		wantRoot []int
		wantLen  []int
		alsoRoot int
	}{
		{"rsa", []int{0, 2, 3}, []int{3, 3, 3}, -1},
		{"p256", []int{0, 1, 2, 3}, []int{4, 3, 3, 3}, 1},
	}
	openssl, _ := exec.LookPath("openssl")
	for _, tt := range tests {
		leaf := issue(t, h, newTestKey(t, tt.key), DefaultProfiles()["classic"], "a.example")
		chains := h.Chains(leaf.Issuer.ID)
		if len(chains) != len(tt.wantRoot) {
			t.Fatalf("%s: %d chains, want %d", tt.key, len(chains), len(tt.wantRoot))
		}
		for i, chain := range chains {
			if len(chain) != tt.wantLen[i] {
				t.Errorf("%s chain %d: %d certificates, want %d", tt.key, i, len(chain), tt.wantLen[i])
			}
			if !bytes.Equal(chain[0].RawSubject, leaf.Issuer.Cert.RawSubject) ||
				!bytes.Equal(chain[0].RawSubjectPublicKeyInfo, leaf.Issuer.Cert.RawSubjectPublicKeyInfo) {
				t.Errorf("%s chain %d starts with %q, not the issuer's subject and key", tt.key, i, chain[0].Subject)
			}
			for r, root := range roots {
				_, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool(root), Intermediates: pool(chain...),
					CurrentTime: clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
				if (err == nil) != (r == tt.wantRoot[i] || i == 0 && r == tt.alsoRoot) {
					t.Errorf("%s chain %d under root %d: err = %v, want success under root %d only",
						tt.key, i, r, err, tt.wantRoot[i])
				}
			}
			if openssl != "" {
				if out, err := opensslVerify(t, openssl, clk.Now(), encodeCerts(roots[tt.wantRoot[i]]), chain, leaf.Cert); err != nil {
					t.Errorf("%s chain %d: openssl verify: %v\n%s", tt.key, i, err, out)
				}
			}
		}
	}
}

// TestChainLinks checks the link intermediates: named after the issuer,
// without a path length limit, and the issuer certificate (what
// /intermediates/N and AIA serve) is the copy signed by the last link.
func TestChainLinks(t *testing.T) {
	h, _ := newHierarchy(t, Config{ChainLength: 3})
	chain := h.Chains("r1")[0]
	want := []string{"fakeca Fake Intermediate R1", "fakeca Fake Intermediate R1 Link 2", "fakeca Fake Intermediate R1 Link 1"}
	for i, c := range chain {
		if c.Subject.CommonName != want[i] {
			t.Errorf("chain[%d] = %q, want %q", i, c.Subject.CommonName, want[i])
		}
		if i > 0 && (c.MaxPathLen != -1 || c.MaxPathLenZero) {
			t.Errorf("link %q: MaxPathLen %d, want none", c.Subject.CommonName, c.MaxPathLen)
		}
	}
	iss, _ := h.IssuerByID("r1")
	if !iss.Cert.Equal(chain[0]) {
		t.Error("Issuer.Cert is not the default chain's first certificate")
	}
	if chain[2].CheckSignatureFrom(h.Roots()[0]) != nil {
		t.Error("Link 1 is not signed by the RSA root")
	}
}

// TestLeafIssuer checks Config.LeafIssuer: one intermediate signs all
// leaves whatever their key type.
func TestLeafIssuer(t *testing.T) {
	for _, tt := range []struct{ leafIssuer, key, want string }{
		{"", "p256", "e1"}, {"", "rsa", "r1"},
		{LeafIssuerRSA, "p256", "r1"}, {LeafIssuerRSA, "ed25519", "r1"},
		{LeafIssuerECDSA, "rsa", "e1"},
	} {
		h, _ := newHierarchy(t, Config{LeafIssuer: tt.leafIssuer})
		leaf := issue(t, h, newTestKey(t, tt.key), DefaultProfiles()["classic"], "a.example")
		if leaf.Issuer.ID != tt.want {
			t.Errorf("leafIssuer %q, %s key: issuer %s, want %s", tt.leafIssuer, tt.key, leaf.Issuer.ID, tt.want)
		}
		if err := leaf.Cert.CheckSignatureFrom(leaf.Issuer.Cert); err != nil {
			t.Errorf("leafIssuer %q, %s key: %v", tt.leafIssuer, tt.key, err)
		}
	}
}

// TestChainPersistence checks that the extra CAs survive a restart with
// Config.Dir, that another shape gets its own file without touching the
// built-in roots, and that a damaged file is an error naming it.
func TestChainPersistence(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, ChainLength: 2, AlternateRoots: 1}
	first, clk := newHierarchy(t, cfg)
	second, _ := newHierarchy(t, cfg)
	leaf := issue(t, first, newTestKey(t, "p256"), DefaultProfiles()["classic"], "a.example")
	if !bytes.Equal(first.BundlePEM(), second.BundlePEM()) {
		t.Fatal("roots changed across restarts")
	}
	for i, chain := range second.Chains(leaf.Issuer.ID) {
		verify(t, second, leaf.Cert, chain, clk.Now())
		if !chain[len(chain)-1].Equal(first.Chains(leaf.Issuer.ID)[i][len(chain)-1]) {
			t.Errorf("chain %d changed across restarts", i)
		}
	}
	path := filepath.Join(dir, "chains-c2-a1.pem")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want mode 0600", path, err, st)
	}

	other, _ := newHierarchy(t, Config{Dir: dir, AlternateRoots: 2})
	if got := other.Roots(); !got[0].Equal(first.Roots()[0]) || !got[1].Equal(first.Roots()[1]) || len(got) != 4 {
		t.Error("another shape changed the built-in roots")
	}
	if _, err := os.Stat(filepath.Join(dir, "chains-c1-a2.pem")); err != nil {
		t.Error(err)
	}

	data, _ := os.ReadFile(path)
	for name, damaged := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"extra":     append(append([]byte(nil), data...), encodeCerts(first.Roots()[0])...),
		"foreign":   bytes.Replace(data, encodeCerts(first.Roots()[2]), encodeCerts(first.Roots()[0]), 1),
	} {
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(cfg, Deps{Clock: clk})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove it") {
			t.Errorf("%s file: err = %v, want one naming %s", name, err, path)
		}
	}
}

// TestChainShapeValidate checks the error texts of the shape settings.
func TestChainShapeValidate(t *testing.T) {
	for cfg, want := range map[*Config]string{
		{ChainLength: -1}:    "pki.chainLength: must be 1..16 (or 0 for 1), got -1",
		{ChainLength: 17}:    "pki.chainLength: must be 1..16 (or 0 for 1), got 17",
		{AlternateRoots: -1}: "pki.alternateRoots: must be 0..16, got -1",
		{LeafIssuer: "dsa"}:  `pki.leafIssuer: must be "rsa", "ecdsa" or empty, got "dsa"`,
	} {
		if err := cfg.Validate(); err == nil || err.Error() != want {
			t.Errorf("%+v: err = %v, want %q", *cfg, err, want)
		}
	}
}

// pool makes a CertPool of certs.
func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
