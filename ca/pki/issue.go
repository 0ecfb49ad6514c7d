package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// maxCNLength is the longest name that fits a subject commonName (RFC 5280
// ub-common-name); longer names are never promoted to CN.
const maxCNLength = 64

// Profile is the certificate-shaping half of a Let's Encrypt profile (Boulder
// CA certProfiles). The zero value is not valid: Validity must be > 0.
type Profile struct {
	// Name is the profile's ACME name, e.g. "classic".
	Name string
	// Validity is notAfter - notBefore + 1s (Boulder's maxValidityPeriod):
	// classic 90 days, tlsserver 45 days, shortlived 160 hours.
	Validity time.Duration
	// Backdate moves notBefore into the past: notBefore = now - Backdate.
	// Boulder uses 0.9 * maxValidityBackdate; DefaultProfiles use 1h.
	Backdate time.Duration
	// OmitCommonName leaves the subject empty (SAN then becomes critical).
	OmitCommonName bool
	// OmitKeyEncipherment drops keyEncipherment from RSA leaves' key usage.
	OmitKeyEncipherment bool
	// OmitSKID leaves out the Subject Key Identifier extension.
	OmitSKID bool
}

// DefaultProfiles returns Let's Encrypt's profiles (reference §4.1):
// "classic" (90 days, CN, keyEncipherment for RSA, SKID), "tlsserver"
// (45 days) and "shortlived" (160 hours), the last two without CN,
// keyEncipherment or SKID. The map is a fresh copy on every call.
func DefaultProfiles() map[string]Profile {
	const day = 24 * time.Hour
	return map[string]Profile{
		"classic": {Name: "classic", Validity: 90 * day, Backdate: time.Hour},
		"tlsserver": {Name: "tlsserver", Validity: 45 * day, Backdate: time.Hour,
			OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
		"shortlived": {Name: "shortlived", Validity: 160 * time.Hour, Backdate: time.Hour,
			OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
	}
}

// LeafRequest is what the CA decided to certify. Names are used as given:
// the caller lowercases, de-duplicates and applies key and name policy. The
// zero value is not valid: PublicKey, one name and a Profile.Validity (or
// NotAfter) are required.
type LeafRequest struct {
	// PublicKey selects the issuer: RSA keys get the RSA intermediate,
	// ECDSA and Ed25519 keys the ECDSA intermediate.
	PublicKey crypto.PublicKey
	// DNSNames and IPs become the SAN extension; at least one is required.
	DNSNames []string
	IPs      []net.IP
	// CommonName is the CSR's subject CN, possibly "". It is kept only if it
	// equals one of DNSNames (case-insensitively); otherwise the first DNS
	// name of at most 64 characters is promoted. IPs never go in the CN.
	CommonName string
	// Profile shapes the certificate.
	Profile Profile
	// NotBefore and NotAfter override the window computed from Profile when
	// non-zero (e.g. for faults or the simulator).
	NotBefore, NotAfter time.Time
}

// Leaf is an issued end-entity certificate. It is a value; Cert and Issuer
// point to shared, read-only data.
type Leaf struct {
	// DER is the certificate as issued.
	DER []byte
	// Cert is DER parsed.
	Cert *x509.Certificate
	// Serial is the serial as 36 lowercase hex digits (SerialString).
	Serial string
	// Issuer is the intermediate that signed it.
	Issuer *Issuer
}

// SerialString formats a serial the way Let's Encrypt shows it in URLs:
// 36 lowercase hex digits, zero-padded.
func SerialString(n *big.Int) string {
	return fmt.Sprintf("%036x", n)
}

// CRLShard returns the 1-based CRL shard of a serial: (serial mod shards)+1.
// It is the shard whose URL Issue puts in the leaf's CRLDP.
func (h *Hierarchy) CRLShard(serial *big.Int) int {
	return int(new(big.Int).Mod(serial, h.shards).Int64()) + 1
}

// Issue signs a leaf for req, shaped like a Let's Encrypt certificate:
// serverAuth EKU only, critical key usage and basic constraints, policy
// 2.23.140.1.2.1, AKI, SKID unless omitted, AIA caIssuers and one CRLDP URL
// (CRLURL of the serial's CRLShard) when configured, and an OCSP URL only
// when Config.OCSPBaseURL is set. "Now" comes from Deps.Clock. Issue takes
// no locks and is safe for concurrent use.
func (h *Hierarchy) Issue(req LeafRequest) (Leaf, error) {
	iss, rsaKey, err := h.issuerFor(req.PublicKey)
	if err != nil {
		return Leaf{}, err
	}
	tmpl, err := h.leafTemplate(req, iss, rsaKey, h.clock.Now())
	if err != nil {
		return Leaf{}, err
	}
	der, err := x509.CreateCertificate(h.rand, tmpl, iss.Cert, req.PublicKey, iss.signer)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: signing leaf: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: parsing issued leaf: %w", err)
	}
	return Leaf{DER: der, Cert: cert, Serial: SerialString(cert.SerialNumber), Issuer: iss}, nil
}

// issuerFor picks the intermediate for a leaf key (Config.LeafIssuer, or
// the one of the key's type) and reports whether the key is RSA.
func (h *Hierarchy) issuerFor(pub crypto.PublicKey) (*Issuer, bool, error) {
	iss, isRSA := h.ecIssuer, false
	switch pub.(type) {
	case *rsa.PublicKey:
		iss, isRSA = h.rsaIssuer, true
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, false, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	if h.leafIssuer != nil {
		iss = h.leafIssuer
	}
	return iss, isRSA, nil
}

// leafTemplate builds the certificate template for req at time now.
func (h *Hierarchy) leafTemplate(req LeafRequest, iss *Issuer, rsaKey bool, now time.Time) (*x509.Certificate, error) {
	if len(req.DNSNames) == 0 && len(req.IPs) == 0 {
		return nil, ErrNoIdentifiers
	}
	notBefore, notAfter, err := leafValidity(req, iss.Cert, now)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial(h.rand)
	if err != nil {
		return nil, err
	}
	ku := x509.KeyUsageDigitalSignature
	if rsaKey && !req.Profile.OmitKeyEncipherment {
		ku |= x509.KeyUsageKeyEncipherment
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPs,
		Policies:              []x509.OID{h.policy},
		IssuingCertificateURL: iss.aia,
		OCSPServer:            iss.ocspURL,
	}
	if !req.Profile.OmitCommonName {
		// An empty subject makes crypto/x509 mark the SAN critical.
		t.Subject = pkix.Name{CommonName: commonName(req.CommonName, req.DNSNames)}
	}
	if !req.Profile.OmitSKID {
		if t.SubjectKeyId, err = keyID(req.PublicKey); err != nil {
			return nil, err
		}
	}
	if url := iss.crlURL(h.CRLShard(serial)); url != "" {
		t.CRLDistributionPoints = []string{url}
	}
	return t, nil
}

// leafValidity computes Boulder's window: notBefore = now - Backdate and
// notAfter = notBefore + Validity - 1s (inclusive), unless overridden. The
// window must be non-empty and inside the issuer's own validity.
func leafValidity(req LeafRequest, issuer *x509.Certificate, now time.Time) (time.Time, time.Time, error) {
	nb, na := req.NotBefore, req.NotAfter
	if nb.IsZero() {
		if req.Profile.Backdate < 0 {
			return nb, na, fmt.Errorf("%w: profile %q has a negative backdate", ErrValidity, req.Profile.Name)
		}
		nb = now.Add(-req.Profile.Backdate)
	}
	if na.IsZero() {
		if req.Profile.Validity <= 0 {
			return nb, na, fmt.Errorf("%w: profile %q has no validity", ErrValidity, req.Profile.Name)
		}
		na = nb.Add(req.Profile.Validity - time.Second)
	}
	if !na.After(nb) {
		return nb, na, fmt.Errorf("%w: notAfter %s is not after notBefore %s", ErrValidity, na, nb)
	}
	if nb.Before(issuer.NotBefore) || na.After(issuer.NotAfter) {
		return nb, na, fmt.Errorf("%w: [%s, %s] is outside issuer %q's [%s, %s]", ErrValidity,
			nb, na, issuer.Subject.CommonName, issuer.NotBefore, issuer.NotAfter)
	}
	return nb, na, nil
}

// commonName applies Boulder's CN rule: keep the CSR's CN if it is one of
// the DNS names, else promote the first DNS name of at most 64 characters,
// else leave the CN empty. IP addresses never become the CN.
func commonName(csrCN string, dnsNames []string) string {
	if csrCN != "" {
		for _, n := range dnsNames {
			if strings.EqualFold(n, csrCN) {
				return n
			}
		}
	}
	for _, n := range dnsNames {
		if len(n) <= maxCNLength {
			return n
		}
	}
	return ""
}
