package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"

	"k8s.io/utils/clock"
)

// Issuer is an intermediate that signs leaves, CRLs and OCSP responses.
//
// Issuers are created by New and immutable afterwards; they are safe for
// concurrent use. Callers must not modify Cert. The zero value is not usable.
type Issuer struct {
	// ID is a short lowercase name usable in URLs, e.g. "e1" or "yr1".
	ID string
	// Cert is the intermediate certificate.
	Cert *x509.Certificate

	signer  crypto.Signer
	aia     []string // caIssuers URLs for leaves; nil when not configured
	ocspURL []string // OCSP URLs for leaves; nil when not configured
	crlBase string   // CRLBaseURL + ID + "/"; "" when not configured
	sig     sigParams
	ocsp    ocspIdentity
}

// Hierarchy is fakeca's key hierarchy: an RSA root, an ECDSA P-384 root, the
// ECDSA root cross-signed by the RSA root, and one intermediate per key type.
//
// Create it with New. It is immutable and safe for concurrent use; no method
// takes a lock. Certificates it returns are shared and must not be modified.
type Hierarchy struct {
	clock  clock.PassiveClock
	rand   io.Reader
	shards *big.Int

	rsaRoot, ecRoot, ecCross *x509.Certificate
	rsaRootKey, ecRootKey    crypto.Signer
	rsaIssuer, ecIssuer      *Issuer
	chains                   map[string][][]*x509.Certificate
	bundle                   []byte
	policy                   x509.OID // 2.23.140.1.2.1, domain validated
}

// material is the full key and certificate set of a hierarchy, as generated
// or loaded from Config.Dir.
type material struct {
	rsaRootKey, ecRootKey, rsaIntKey, ecIntKey crypto.Signer
	rsaRoot, ecRoot, ecCross, rsaInt, ecInt    *x509.Certificate
}

// New builds a Hierarchy: it validates cfg, then loads the hierarchy from
// cfg.Dir or generates a fresh one (persisting it when cfg.Dir is set).
// Generation runs the four key generations concurrently and waits for them.
func New(cfg Config, deps Deps) (*Hierarchy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	deps, err := deps.withDefaults()
	if err != nil {
		return nil, err
	}
	p, _ := lookupPreset(cfg.Hierarchy)
	policy, err := x509.OIDFromInts([]uint64{2, 23, 140, 1, 2, 1})
	if err != nil {
		return nil, fmt.Errorf("pki: policy OID: %w", err)
	}
	m, err := obtain(cfg.Dir, p, deps, policy)
	if err != nil {
		return nil, err
	}
	h := &Hierarchy{
		clock:      deps.Clock,
		rand:       deps.Rand,
		shards:     big.NewInt(int64(cfg.shards())),
		rsaRoot:    m.rsaRoot,
		ecRoot:     m.ecRoot,
		ecCross:    m.ecCross,
		rsaRootKey: m.rsaRootKey,
		ecRootKey:  m.ecRootKey,
		policy:     policy,
	}
	if h.rsaIssuer, err = newIssuer(p.rsaIntID, m.rsaInt, m.rsaIntKey, cfg); err != nil {
		return nil, err
	}
	if h.ecIssuer, err = newIssuer(p.ecIntID, m.ecInt, m.ecIntKey, cfg); err != nil {
		return nil, err
	}
	h.chains = map[string][][]*x509.Certificate{
		h.rsaIssuer.ID: {{m.rsaInt}},
		// Default: ECDSA int ← ECDSA root cross-signed by the RSA root, so
		// clients that only trust the RSA root still verify; alternate: the
		// short chain to the self-signed ECDSA root.
		h.ecIssuer.ID: {{m.ecInt, m.ecCross}, {m.ecInt}},
	}
	h.bundle = encodeCerts(m.rsaRoot, m.ecRoot)
	return h, nil
}

// obtain loads the material from dir, or generates it (and saves it to dir
// when dir is set).
func obtain(dir string, p preset, deps Deps, policy x509.OID) (material, error) {
	if dir != "" {
		m, found, err := load(dir, p)
		if err != nil || found {
			return m, err
		}
	}
	m, err := generate(p, deps.Clock.Now(), deps.Rand, policy)
	if err != nil {
		return material{}, err
	}
	if dir != "" {
		if err := save(dir, m); err != nil {
			return material{}, err
		}
	}
	return m, nil
}

// newIssuer wraps an intermediate and precomputes its leaf URLs and the
// values its OCSP responses need.
func newIssuer(id string, cert *x509.Certificate, key crypto.Signer, cfg Config) (*Issuer, error) {
	iss := &Issuer{ID: id, Cert: cert, signer: key}
	if cfg.AIABaseURL != "" {
		iss.aia = []string{cfg.AIABaseURL + id + ".der"}
	}
	if cfg.OCSPBaseURL != "" {
		iss.ocspURL = []string{cfg.OCSPBaseURL}
	}
	if cfg.CRLBaseURL != "" {
		iss.crlBase = cfg.CRLBaseURL + id + "/"
	}
	var err error
	if iss.sig, err = newSigParams(key.Public()); err != nil {
		return nil, fmt.Errorf("pki: issuer %q: %w", id, err)
	}
	if iss.ocsp, err = newOCSPIdentity(cert); err != nil {
		return nil, fmt.Errorf("pki: issuer %q: %w", id, err)
	}
	return iss, nil
}

// Roots returns the root certificates: the RSA root, then the ECDSA root.
// The slice is a fresh copy; the certificates are shared.
func (h *Hierarchy) Roots() []*x509.Certificate {
	return []*x509.Certificate{h.rsaRoot, h.ecRoot}
}

// Issuers returns the intermediates that sign leaves: RSA first, then ECDSA.
// The slice is a fresh copy; the issuers are shared.
func (h *Hierarchy) Issuers() []*Issuer {
	return []*Issuer{h.rsaIssuer, h.ecIssuer}
}

// IssuerByID returns the issuer whose ID is id.
func (h *Hierarchy) IssuerByID(id string) (*Issuer, bool) {
	for _, iss := range h.Issuers() {
		if iss.ID == id {
			return iss, true
		}
	}
	return nil, false
}

// IssuerBySKID returns the issuer whose Subject Key Identifier is skid, as
// found in the authority key identifier of an ARI certID.
func (h *Hierarchy) IssuerBySKID(skid []byte) (*Issuer, bool) {
	if len(skid) == 0 {
		return nil, false
	}
	for _, iss := range h.Issuers() {
		if bytes.Equal(iss.Cert.SubjectKeyId, skid) {
			return iss, true
		}
	}
	return nil, false
}

// IssuerOf returns the issuer that signed cert: its AKI must match the
// issuer's SKID and the signature must verify with the issuer's key.
func (h *Hierarchy) IssuerOf(cert *x509.Certificate) (*Issuer, bool) {
	if cert == nil {
		return nil, false
	}
	iss, ok := h.IssuerBySKID(cert.AuthorityKeyId)
	if !ok || cert.CheckSignatureFrom(iss.Cert) != nil {
		return nil, false
	}
	return iss, true
}

// Chains returns the certificate chains for leaves signed by the issuer
// named issuerID, leaf excluded: the default chain first, then alternates.
// Each chain starts with the intermediate and verifies against a root in
// BundlePEM. For the RSA issuer: [R-int]. For the ECDSA issuer:
// [E-int, E-root cross-signed by the RSA root] then [E-int].
// An unknown ID yields nil. The slices are fresh copies.
func (h *Hierarchy) Chains(issuerID string) [][]*x509.Certificate {
	src, ok := h.chains[issuerID]
	if !ok {
		return nil
	}
	out := make([][]*x509.Certificate, len(src))
	for i, c := range src {
		out[i] = append([]*x509.Certificate(nil), c...)
	}
	return out
}

// BundlePEM returns the PEM-encoded roots (RSA, then ECDSA): the trust bundle
// for openssl -CAfile, curl --cacert or a cert-manager caBundle. It verifies
// every leaf and ServingCertificate. The slice is a fresh copy.
func (h *Hierarchy) BundlePEM() []byte {
	return bytes.Clone(h.bundle)
}

// encodeCerts PEM-encodes certificates in order.
func encodeCerts(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		// pem.Encode only fails on invalid headers; there are none.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
