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
// ECDSA root cross-signed by the RSA root, and one intermediate per key type;
// Config.ChainLength and Config.AlternateRoots add intermediates and roots.
//
// Create it with New. It is immutable and safe for concurrent use; no method
// takes a lock. Certificates it returns are shared and must not be modified.
type Hierarchy struct {
	clock  clock.PassiveClock
	rand   io.Reader
	shards *big.Int

	rsaRoot, ecRoot, ecCross *x509.Certificate
	roots                    []*x509.Certificate // RSA, ECDSA, then alternates
	rootKeys                 []crypto.Signer     // in the order of roots
	rsaIssuer, ecIssuer      *Issuer
	leafIssuer               *Issuer // signs every leaf; nil: by the leaf's key type
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
	m, err := obtain(cfg.Dir, p, deps)
	if err != nil {
		return nil, err
	}
	bases := []issuerBase{
		{id: p.rsaIntID, cert: m.rsaInt, key: m.rsaIntKey, root: m.rsaRoot, rkey: m.rsaRootKey},
		{id: p.ecIntID, cert: m.ecInt, key: m.ecIntKey, root: m.ecRoot, rkey: m.ecRootKey},
	}
	x, err := obtainExtras(cfg, p, bases, deps.Rand)
	if err != nil {
		return nil, err
	}
	h := &Hierarchy{
		clock:    deps.Clock,
		rand:     deps.Rand,
		shards:   big.NewInt(int64(cfg.shards())),
		rsaRoot:  m.rsaRoot,
		ecRoot:   m.ecRoot,
		ecCross:  m.ecCross,
		roots:    append([]*x509.Certificate{m.rsaRoot, m.ecRoot}, x.altRoots...),
		rootKeys: append([]crypto.Signer{m.rsaRootKey, m.ecRootKey}, x.altRootKeys...),
		policy:   dvPolicy(),
	}
	switch cfg.LeafIssuer {
	// Pebble's shape: Roots()[i] is the root of the leaf issuer's chain
	// i, so its own root comes first, then the alternates; the other
	// built-in root, on none of those chains, goes last.
	case LeafIssuerRSA:
		h.roots = append(append([]*x509.Certificate{m.rsaRoot}, x.altRoots...), m.ecRoot)
		h.rootKeys = append(append([]crypto.Signer{m.rsaRootKey}, x.altRootKeys...), m.ecRootKey)
	case LeafIssuerECDSA:
		h.roots = append(append([]*x509.Certificate{m.ecRoot}, x.altRoots...), m.rsaRoot)
		h.rootKeys = append(append([]crypto.Signer{m.ecRootKey}, x.altRootKeys...), m.rsaRootKey)
	}
	h.chains = assembleChains(m, bases, x, cfg)
	if h.rsaIssuer, err = newIssuer(p.rsaIntID, h.chains[p.rsaIntID][0][0], m.rsaIntKey, cfg); err != nil {
		return nil, err
	}
	if h.ecIssuer, err = newIssuer(p.ecIntID, h.chains[p.ecIntID][0][0], m.ecIntKey, cfg); err != nil {
		return nil, err
	}
	switch cfg.LeafIssuer {
	case LeafIssuerRSA:
		h.leafIssuer = h.rsaIssuer
	case LeafIssuerECDSA:
		h.leafIssuer = h.ecIssuer
	}
	h.bundle = encodeCerts(h.roots...)
	return h, nil
}

// assembleChains lists every issuer's chains, default first. The RSA
// issuer's default chain ends below the RSA root. The ECDSA issuer's
// default chain adds the ECDSA root cross-signed by the RSA root, so
// clients that only trust the RSA root still verify, and its first
// alternate is the same chain without it, ending below the self-signed
// ECDSA root — unless cfg.LeafIssuer is set: Pebble's shape has no
// cross-signed chain. Chains through alternate roots follow.
func assembleChains(m material, bases []issuerBase, x extraCAs, cfg Config) map[string][][]*x509.Certificate {
	chains := map[string][][]*x509.Certificate{}
	for _, b := range bases {
		extra := x.chains[b.id]
		main := []*x509.Certificate{b.cert}
		if cfg.chainLength() > 1 {
			main, extra = extra[0], extra[1:]
		}
		if b.cert == m.ecInt && cfg.LeafIssuer == "" {
			cross := append(append([]*x509.Certificate(nil), main...), m.ecCross)
			chains[b.id] = append([][]*x509.Certificate{cross, main}, extra...)
		} else {
			chains[b.id] = append([][]*x509.Certificate{main}, extra...)
		}
	}
	return chains
}

// obtain loads the material from dir, or generates it (and saves it to dir
// when dir is set).
func obtain(dir string, p preset, deps Deps) (material, error) {
	if dir != "" {
		m, found, err := load(dir, p)
		if err != nil || found {
			return m, err
		}
	}
	m, err := generate(p, deps.Clock.Now(), deps.Rand)
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

// Roots returns the root certificates: the RSA root, the ECDSA root, then
// the Config.AlternateRoots in order. With Config.LeafIssuer set, the leaf
// issuer's root comes first, then the alternates, then the other built-in
// root, so that Roots()[i] is the root of the leaf issuer's chain i, as
// Pebble's /roots/<i> is. The slice is a fresh copy; the certificates are
// shared.
func (h *Hierarchy) Roots() []*x509.Certificate {
	return append([]*x509.Certificate(nil), h.roots...)
}

// Issuers returns the intermediates that sign leaves: RSA first, then ECDSA.
// The slice is a fresh copy; the issuers are shared.
func (h *Hierarchy) Issuers() []*Issuer {
	return []*Issuer{h.rsaIssuer, h.ecIssuer}
}

// Intermediates returns what Pebble's /intermediates/<i> serves. With
// Config.LeafIssuer set, the first certificate of each of the leaf
// issuer's chains (the same subject and key, signed under Roots()[i]);
// otherwise each issuer's certificate, as Issuers. A fresh slice.
func (h *Hierarchy) Intermediates() []*x509.Certificate {
	var out []*x509.Certificate
	if h.leafIssuer != nil {
		for _, c := range h.chains[h.leafIssuer.ID] {
			out = append(out, c[0])
		}
		return out
	}
	for _, iss := range h.Issuers() {
		out = append(out, iss.Cert)
	}
	return out
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
// BundlePEM. With the defaults, for the RSA issuer: [R-int]; for the ECDSA
// issuer: [E-int, E-root cross-signed by the RSA root] then [E-int].
// Config.ChainLength > 1 inserts links after the intermediate; every
// alternate root adds one chain of ChainLength intermediates.
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

// BundlePEM returns the PEM-encoded roots (RSA, ECDSA, alternates): the trust bundle
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
