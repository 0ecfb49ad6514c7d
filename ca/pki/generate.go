package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"
)

const (
	// rsaBits is the size of both RSA keys (root and intermediate).
	// Deliberate deviation: Let's Encrypt's RSA roots are 4096-bit; fakeca
	// uses 2048 bits so that a fresh hierarchy is generated well under a
	// second. Intermediates are RSA-2048 at Let's Encrypt too.
	rsaBits = 2048

	// caBackdate is how far CA certificates' notBefore lies before "now",
	// so that clients with a slightly slow clock accept them.
	caBackdate = 24 * time.Hour
	// rootYears and intYears are the validity of roots (and the cross-sign)
	// and of intermediates.
	rootYears = 25
	intYears  = 5

	// serialPrefix is the fixed first byte of every serial fakeca makes.
	// Below 0x80 and non-zero, so the DER integer is always 18 bytes.
	serialPrefix = 0x66
	// serialRandomBytes follow the prefix (Boulder: 1 + 17 bytes).
	serialRandomBytes = 17
)

// keyKind names the key types of the hierarchy.
type keyKind int

const (
	kindRSA      keyKind = iota
	kindEC               // P-384, for the ECDSA root (as Let's Encrypt's X2 / YE)
	kindECIssuer         // P-256, for the ECDSA intermediate
)

// newKey generates a CA key of the given kind.
func newKey(k keyKind, r io.Reader) (crypto.Signer, error) {
	if k == kindRSA {
		return rsa.GenerateKey(r, rsaBits)
	}
	if k == kindECIssuer {
		// Let's Encrypt's ECDSA intermediates are P-384. fakeca's is P-256:
		// Go signs and verifies P-256 about ten times faster, and issuance
		// CPU is a product target (BENCHMARKS.md). Clients cannot tell.
		return ecdsa.GenerateKey(elliptic.P256(), r)
	}
	return ecdsa.GenerateKey(elliptic.P384(), r)
}

// generateKeys makes the four CA keys concurrently: two RSA keys dominate
// start-up time, so they run in parallel. All goroutines finish before it
// returns.
func generateKeys(r io.Reader) ([4]crypto.Signer, error) {
	kinds := [4]keyKind{kindRSA, kindEC, kindRSA, kindECIssuer}
	var (
		keys [4]crypto.Signer
		errs [4]error
		wg   sync.WaitGroup
	)
	for i, k := range kinds {
		wg.Go(func() { keys[i], errs[i] = newKey(k, r) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return keys, fmt.Errorf("pki: generating CA key: %w", err)
		}
	}
	return keys, nil
}

// generate creates a fresh hierarchy named after p, valid from now.
// Intermediates carry policy, as Let's Encrypt's do.
func generate(p preset, now time.Time, r io.Reader) (material, error) {
	keys, err := generateKeys(r)
	if err != nil {
		return material{}, err
	}
	m := material{rsaRootKey: keys[0], ecRootKey: keys[1], rsaIntKey: keys[2], ecIntKey: keys[3]}
	notBefore := now.Add(-caBackdate).Truncate(time.Second)
	rootEnd := notBefore.AddDate(rootYears, 0, 0)
	intEnd := notBefore.AddDate(intYears, 0, 0)

	steps := []struct {
		out     **x509.Certificate
		tmpl    *x509.Certificate
		parent  **x509.Certificate // nil: self-signed
		pub     crypto.PublicKey
		signKey crypto.Signer
	}{
		{&m.rsaRoot, rootTemplate(p.rsaRoot, notBefore, rootEnd), nil, m.rsaRootKey.Public(), m.rsaRootKey},
		{&m.ecRoot, rootTemplate(p.ecRoot, notBefore, rootEnd), nil, m.ecRootKey.Public(), m.ecRootKey},
		{&m.ecCross, rootTemplate(p.ecRoot, notBefore, rootEnd), &m.rsaRoot, m.ecRootKey.Public(), m.rsaRootKey},
		{&m.rsaInt, intTemplate(p.rsaInt, notBefore, intEnd), &m.rsaRoot, m.rsaIntKey.Public(), m.rsaRootKey},
		{&m.ecInt, intTemplate(p.ecInt, notBefore, intEnd), &m.ecRoot, m.ecIntKey.Public(), m.ecRootKey},
	}
	for _, s := range steps {
		parent := s.tmpl
		if s.parent != nil {
			parent = *s.parent
		}
		if *s.out, err = signCA(s.tmpl, parent, s.pub, s.signKey, r); err != nil {
			return material{}, fmt.Errorf("pki: creating %q: %w", s.tmpl.Subject.CommonName, err)
		}
	}
	return m, nil
}

// signCA fills the serial and SKID of tmpl, signs it and parses the result.
func signCA(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer, r io.Reader) (*x509.Certificate, error) {
	serial, err := newSerial(r)
	if err != nil {
		return nil, err
	}
	skid, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.SubjectKeyId = skid
	der, err := x509.CreateCertificate(r, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// rootTemplate describes a root (or a cross-signed root): CA without a path
// length limit, key usage certSign + cRLSign, like ISRG Root X1/X2.
func rootTemplate(name pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               name,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

// intTemplate describes an intermediate like Let's Encrypt's: pathlen 0,
// key usage digitalSignature + certSign + cRLSign, EKU serverAuth, and the
// domain-validated certificate policy.
func intTemplate(name pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               name,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		Policies:              []x509.OID{dvPolicy()},
	}
}

// dvPolicy is the CA/Browser Forum domain-validated policy, 2.23.140.1.2.1,
// which Let's Encrypt's intermediates and leaves carry.
func dvPolicy() x509.OID {
	oid, _ := x509.OIDFromInts([]uint64{2, 23, 140, 1, 2, 1}) // fails only for < 2 components
	return oid
}

// newSerial returns an 18-byte serial: serialPrefix then 17 random bytes.
func newSerial(r io.Reader) (*big.Int, error) {
	var b [1 + serialRandomBytes]byte
	b[0] = serialPrefix
	if _, err := io.ReadFull(r, b[1:]); err != nil {
		return nil, fmt.Errorf("pki: reading serial randomness: %w", err)
	}
	return new(big.Int).SetBytes(b[:]), nil
}

// keyID computes a Subject Key Identifier as in RFC 7093 §2 method 1: the
// leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT STRING.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: marshalling public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("pki: parsing public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
