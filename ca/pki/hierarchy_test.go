package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name                     string
		hierarchy                string
		rsaRoot, ecRoot          string
		rsaInt, ecInt            string
		rsaID, ecID              string
		rootOrg, intOrg, country string
	}{
		{name: "default is fakeca", hierarchy: "",
			rsaRoot: "fakeca Fake Root X1", ecRoot: "fakeca Fake Root X2",
			rsaInt: "fakeca Fake Intermediate R1", ecInt: "fakeca Fake Intermediate E1",
			rsaID: "r1", ecID: "e1", rootOrg: "fakeca (NOT A REAL CA, DO NOT TRUST)",
			intOrg: "fakeca (NOT A REAL CA, DO NOT TRUST)", country: "US"},
		{name: "staging", hierarchy: "letsencrypt-staging",
			rsaRoot: "(STAGING) Pretend Pear X1", ecRoot: "(STAGING) Bogus Broccoli X2",
			rsaInt: "(STAGING) Dastardly Durum YR1", ecInt: "(STAGING) Artificial Amaranth YE1",
			rsaID: "yr1", ecID: "ye1", rootOrg: "(STAGING) Internet Security Research Group",
			intOrg: "(STAGING) Let's Encrypt", country: "US"},
		{name: "production", hierarchy: "letsencrypt-production",
			rsaRoot: "ISRG Root X1", ecRoot: "ISRG Root X2", rsaInt: "YR1", ecInt: "YE1",
			rsaID: "yr1", ecID: "ye1", rootOrg: "Internet Security Research Group",
			intOrg: "Let's Encrypt", country: "US"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHierarchy(t, Config{Hierarchy: tt.hierarchy})
			roots := h.Roots()
			iss := h.Issuers()
			checks := []struct {
				what, got, want string
			}{
				{"RSA root CN", roots[0].Subject.CommonName, tt.rsaRoot},
				{"ECDSA root CN", roots[1].Subject.CommonName, tt.ecRoot},
				{"RSA root O", roots[0].Subject.Organization[0], tt.rootOrg},
				{"RSA root C", roots[0].Subject.Country[0], tt.country},
				{"RSA int CN", iss[0].Cert.Subject.CommonName, tt.rsaInt},
				{"ECDSA int CN", iss[1].Cert.Subject.CommonName, tt.ecInt},
				{"ECDSA int O", iss[1].Cert.Subject.Organization[0], tt.intOrg},
				{"RSA int issuer", iss[0].Cert.Issuer.CommonName, tt.rsaRoot},
				{"ECDSA int issuer", iss[1].Cert.Issuer.CommonName, tt.ecRoot},
				{"RSA ID", iss[0].ID, tt.rsaID},
				{"ECDSA ID", iss[1].ID, tt.ecID},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestCACertificates(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	now := testStart()
	rsaInt, ecInt := h.Issuers()[0].Cert, h.Issuers()[1].Cert
	tests := []struct {
		name     string
		cert     *x509.Certificate
		parent   *x509.Certificate
		keyBits  int // RSA modulus or ECDSA curve size
		years    int
		ku       x509.KeyUsage
		pathlen0 bool
		eku      []x509.ExtKeyUsage
	}{
		{"RSA root", h.rsaRoot, h.rsaRoot, 2048, 25, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, false, nil},
		{"ECDSA root", h.ecRoot, h.ecRoot, 384, 25, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, false, nil},
		{"ECDSA root cross-signed", h.ecCross, h.rsaRoot, 384, 25, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, false, nil},
		{"RSA intermediate", rsaInt, h.rsaRoot, 2048, 5,
			x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign, true,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"ECDSA intermediate", ecInt, h.ecRoot, 256, 5,
			x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign, true,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			if err := c.CheckSignatureFrom(tt.parent); err != nil {
				t.Errorf("signature: %v", err)
			}
			switch k := c.PublicKey.(type) {
			case *rsa.PublicKey:
				if k.N.BitLen() != tt.keyBits {
					t.Errorf("RSA bits = %d, want %d", k.N.BitLen(), tt.keyBits)
				}
			case *ecdsa.PublicKey:
				if k.Curve.Params().BitSize != tt.keyBits {
					t.Errorf("curve bits = %d, want %d", k.Curve.Params().BitSize, tt.keyBits)
				}
			}
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Error("not a CA")
			}
			if c.MaxPathLenZero != tt.pathlen0 || (tt.pathlen0 && c.MaxPathLen != 0) {
				t.Errorf("pathlen = %d (zero=%v), want zero=%v", c.MaxPathLen, c.MaxPathLenZero, tt.pathlen0)
			}
			if c.KeyUsage != tt.ku {
				t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, tt.ku)
			}
			if len(c.ExtKeyUsage) != len(tt.eku) || (len(tt.eku) > 0 && c.ExtKeyUsage[0] != tt.eku[0]) {
				t.Errorf("ExtKeyUsage = %v, want %v", c.ExtKeyUsage, tt.eku)
			}
			for _, oid := range []string{oidKU, oidBC} {
				if present, critical := ext(c, oid); !present || !critical {
					t.Errorf("extension %s present=%v critical=%v, want critical", oid, present, critical)
				}
			}
			if len(c.SubjectKeyId) != 20 {
				t.Errorf("SKID length %d, want 20", len(c.SubjectKeyId))
			}
			if c != tt.parent && !bytes.Equal(c.AuthorityKeyId, tt.parent.SubjectKeyId) {
				t.Errorf("AKI %x != parent SKID %x", c.AuthorityKeyId, tt.parent.SubjectKeyId)
			}
			if !c.NotBefore.Before(now) {
				t.Errorf("NotBefore %s is not backdated before %s", c.NotBefore, now)
			}
			if want := c.NotBefore.AddDate(tt.years, 0, 0); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %s, want %s", c.NotAfter, want)
			}
		})
	}
}

func TestCrossSign(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"subject", h.ecCross.RawSubject, h.ecRoot.RawSubject},
		{"public key", h.ecCross.RawSubjectPublicKeyInfo, h.ecRoot.RawSubjectPublicKeyInfo},
		{"SKID", h.ecCross.SubjectKeyId, h.ecRoot.SubjectKeyId},
		{"issuer is the RSA root", h.ecCross.RawIssuer, h.rsaRoot.RawSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Fatalf("cross-signed ECDSA root: %s differs", tt.name)
			}
		})
	}
}

func TestChains(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	tests := []struct {
		name      string
		key       string
		wantID    string
		wantTops  []string // per chain: issuer CN of the last certificate
		wantCount []int    // per chain: number of certificates
	}{
		{name: "RSA leaf", key: "rsa", wantID: "r1",
			wantTops: []string{"fakeca Fake Root X1"}, wantCount: []int{1}},
		{name: "ECDSA P-256 leaf", key: "p256", wantID: "e1",
			wantTops: []string{"fakeca Fake Root X1", "fakeca Fake Root X2"}, wantCount: []int{2, 1}},
		{name: "ECDSA P-384 leaf", key: "p384", wantID: "e1",
			wantTops: []string{"fakeca Fake Root X1", "fakeca Fake Root X2"}, wantCount: []int{2, 1}},
		{name: "Ed25519 leaf", key: "ed25519", wantID: "e1",
			wantTops: []string{"fakeca Fake Root X1", "fakeca Fake Root X2"}, wantCount: []int{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := issue(t, h, newTestKey(t, tt.key), DefaultProfiles()["classic"], "example.com")
			if leaf.Issuer.ID != tt.wantID {
				t.Fatalf("issuer %q, want %q", leaf.Issuer.ID, tt.wantID)
			}
			chains := h.Chains(leaf.Issuer.ID)
			if len(chains) != len(tt.wantTops) {
				t.Fatalf("%d chains, want %d", len(chains), len(tt.wantTops))
			}
			for i, chain := range chains {
				if len(chain) != tt.wantCount[i] || chain[0] != leaf.Issuer.Cert {
					t.Fatalf("chain %d: %d certs starting %q", i, len(chain), chain[0].Subject.CommonName)
				}
				if top := chain[len(chain)-1].Issuer.CommonName; top != tt.wantTops[i] {
					t.Errorf("chain %d tops out at %q, want %q", i, top, tt.wantTops[i])
				}
				verified := verify(t, h, leaf.Cert, chain, testStart())
				if !verifiesWithOnly(leaf.Cert, chain, chain[len(chain)-1].Issuer.CommonName, h) {
					t.Errorf("chain %d does not verify against its own top root alone (%d paths)", i, len(verified))
				}
			}
		})
	}
	t.Run("unknown issuer", func(t *testing.T) {
		if got := h.Chains("x9"); got != nil {
			t.Fatalf("Chains(x9) = %v, want nil", got)
		}
	})
	t.Run("returned chains are copies", func(t *testing.T) {
		h.Chains("e1")[0][0] = nil
		if h.Chains("e1")[0][0] == nil {
			t.Fatal("mutating the result changed the hierarchy")
		}
	})
}

// verifiesWithOnly reports whether leaf verifies with chain as
// intermediates when only the root named rootCN is trusted.
func verifiesWithOnly(leaf *x509.Certificate, chain []*x509.Certificate, rootCN string, h *Hierarchy) bool {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range h.Roots() {
		if r.Subject.CommonName == rootCN {
			roots.AddCert(r)
		}
	}
	for _, c := range chain {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: testStart()})
	return err == nil
}

func TestBundlePEM(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	rest := h.BundlePEM()
	var got []*x509.Certificate
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	roots := h.Roots()
	if len(got) != 2 || !got[0].Equal(roots[0]) || !got[1].Equal(roots[1]) {
		t.Fatalf("bundle holds %d certificates, want the 2 roots in order", len(got))
	}
}

func TestIssuerLookups(t *testing.T) {
	h, _ := newHierarchy(t, Config{Hierarchy: "letsencrypt-staging"})
	other, _ := newHierarchy(t, Config{Hierarchy: "letsencrypt-staging"})
	rsaLeaf := issue(t, h, newTestKey(t, "rsa"), DefaultProfiles()["classic"], "a.example")
	ecLeaf := issue(t, h, newTestKey(t, "p256"), DefaultProfiles()["tlsserver"], "b.example")
	foreign := issue(t, other, newTestKey(t, "p256"), DefaultProfiles()["classic"], "c.example")
	forged := forgeLeaf(t, h.Issuers()[1].Cert.SubjectKeyId)

	byID := []struct {
		id   string
		want string // "" = not found
	}{{"yr1", "yr1"}, {"ye1", "ye1"}, {"r1", ""}, {"", ""}, {"YR1", ""}}
	for _, tt := range byID {
		t.Run("IssuerByID "+tt.id, func(t *testing.T) {
			iss, ok := h.IssuerByID(tt.id)
			if ok != (tt.want != "") || (ok && iss.ID != tt.want) {
				t.Fatalf("IssuerByID(%q) = %v, %v", tt.id, iss, ok)
			}
		})
	}
	bySKID := []struct {
		name string
		skid []byte
		want string
	}{
		{"RSA leaf AKI", rsaLeaf.Cert.AuthorityKeyId, "yr1"},
		{"ECDSA leaf AKI", ecLeaf.Cert.AuthorityKeyId, "ye1"},
		{"other hierarchy", foreign.Cert.AuthorityKeyId, ""},
		{"root SKID", h.Roots()[0].SubjectKeyId, ""},
		{"empty", nil, ""},
	}
	for _, tt := range bySKID {
		t.Run("IssuerBySKID "+tt.name, func(t *testing.T) {
			iss, ok := h.IssuerBySKID(tt.skid)
			if ok != (tt.want != "") || (ok && iss.ID != tt.want) {
				t.Fatalf("IssuerBySKID = %v, %v; want %q", iss, ok, tt.want)
			}
		})
	}
	of := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"RSA leaf", rsaLeaf.Cert, "yr1"},
		{"ECDSA leaf", ecLeaf.Cert, "ye1"},
		{"other hierarchy", foreign.Cert, ""},
		{"AKI matches but signature does not", forged, ""},
		{"intermediate itself", h.Issuers()[0].Cert, ""},
		{"nil", nil, ""},
	}
	for _, tt := range of {
		t.Run("IssuerOf "+tt.name, func(t *testing.T) {
			iss, ok := h.IssuerOf(tt.cert)
			if ok != (tt.want != "") || (ok && iss.ID != tt.want) {
				t.Fatalf("IssuerOf = %v, %v; want %q", iss, ok, tt.want)
			}
		})
	}
}

// forgeLeaf returns a leaf whose AKI is aki but which is signed by an
// unrelated CA key.
func forgeLeaf(t *testing.T, aki []byte) *x509.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), SubjectKeyId: aki, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: testStart().Add(-time.Hour), NotAfter: testStart().Add(time.Hour),
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey := newTestKey(t, "p256")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"forged.example"},
		NotBefore: ca.NotBefore, NotAfter: ca.NotAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}
