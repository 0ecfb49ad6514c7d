package pki

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"

	"k8s.io/utils/clock"
)

// DefaultCRLShards is the number of CRL shards per issuer used when
// Config.CRLShards is 0. Let's Encrypt publishes 128 shards per intermediate.
const DefaultCRLShards = 128

// Config configures a Hierarchy. The zero value is valid: fake subject names,
// no AIA, OCSP or CRL URLs in leaves, 128 CRL shards, nothing persisted.
type Config struct {
	// Hierarchy names the subject-name preset of the roots and intermediates:
	// "" or "fakeca" (default; obviously fake names, issuer IDs "r1"/"e1"),
	// "letsencrypt-staging" (Pretend Pear X1 / Bogus Broccoli X2 roots,
	// Dastardly Durum YR1 / Artificial Amaranth YE1 intermediates, IDs
	// "yr1"/"ye1") or "letsencrypt-production" (ISRG Root X1 / X2, YR1 / YE1,
	// IDs "yr1"/"ye1"). Change it when a client's behaviour depends on names,
	// e.g. cert-manager's preferredChain. The keys are always fakeca's own.
	Hierarchy string `yaml:"hierarchy"`

	// AIABaseURL, if set, makes every leaf carry an Authority Information
	// Access caIssuers URL of AIABaseURL + issuer ID + ".der", e.g.
	// "http://127.0.0.1:14080/aia/" gives ".../aia/e1.der". It must be an
	// absolute http(s) URL ending in "/". Default: empty (no AIA). Let's
	// Encrypt sets caIssuers to http://<int>.i.lencr.org/.
	AIABaseURL string `yaml:"aiaBaseURL"`

	// OCSPBaseURL, if set, makes every leaf carry an Authority Information
	// Access OCSP URL of exactly this value, e.g.
	// "http://127.0.0.1:14080/ocsp" (one responder for all issuers: OCSP
	// requests name their issuer). It must be an absolute http(s) URL without
	// query or fragment. Default: empty (no OCSP URL), as Let's Encrypt since
	// May 2025; set it to test clients or servers that still staple or check
	// OCSP. Hierarchy.OCSPResponse answers either way.
	OCSPBaseURL string `yaml:"ocspBaseURL"`

	// CRLBaseURL, if set, makes every leaf carry exactly one CRL distribution
	// point, CRLBaseURL + issuer ID + "/" + shard + ".crl", where shard is
	// (serial mod CRLShards) + 1, as Boulder does. It must be an absolute
	// http(s) URL ending in "/". Default: empty (no CRLDP).
	CRLBaseURL string `yaml:"crlBaseURL"`

	// CRLShards is the number of CRL shards per issuer. Default (0): 128,
	// Let's Encrypt's value. Lower it to keep CRL endpoints easy to browse.
	CRLShards int `yaml:"crlShards"`

	// ChainLength is the number of intermediates in every chain, the
	// leaf-signing one included (Pebble's PEBBLE_CHAIN_LENGTH). Default (0)
	// and 1: Let's Encrypt's shape, the intermediate signed by its root.
	// N > 1 puts N-1 "Link" intermediates (ECDSA P-256) between each root
	// and the leaf-signing intermediate, which is then signed by the last
	// link under the same subject and key, so leaves, CRLs and OCSP do not
	// change. ECDSA default chains also carry the cross-signed ECDSA root
	// (see Hierarchy.Chains). At most MaxChainLength.
	ChainLength int `yaml:"chainLength"`

	// AlternateRoots adds that many roots (ECDSA P-256, named after the RSA
	// root plus " Alternate N"), each with a chain of ChainLength
	// intermediates ending in a copy of every leaf-signing intermediate
	// (same subject and key), served as alternate chains after the built-in
	// ones — Pebble's PEBBLE_ALTERNATE_ROOTS. They follow the two built-in
	// roots in Roots and BundlePEM. Default 0; at most MaxAlternateRoots.
	AlternateRoots int `yaml:"alternateRoots"`

	// LeafIssuer picks the intermediate that signs every leaf: "" (default)
	// follows the leaf key like Boulder (RSA keys get the RSA intermediate,
	// ECDSA and Ed25519 keys the ECDSA one); LeafIssuerRSA or
	// LeafIssuerECDSA signs all leaves with that one, like Pebble's
	// keyAlgorithm, and gives Pebble's shape: that intermediate's chains
	// are the one below its own root and one per alternate root (no chain
	// through the cross-signed ECDSA root), and Roots()[i] is the root of
	// its chain i.
	LeafIssuer string `yaml:"leafIssuer"`

	// Dir, if non-empty, is where keys (PKCS#8 PEM, mode 0600) and
	// certificates (PEM) are kept: New loads the hierarchy found there or
	// generates one and writes it, so the trust bundle survives restarts.
	// The CAs that ChainLength and AlternateRoots add are kept in a file
	// named after both values (chains-c<N>-a<M>.pem).
	// A directory holding another preset's hierarchy, or only part of one,
	// is an error. Default: empty (a fresh hierarchy on every start).
	Dir string `yaml:"dir"`
}

// Limits and values of the chain-shape settings.
const (
	// MaxChainLength is the largest Config.ChainLength.
	MaxChainLength = 16
	// MaxAlternateRoots is the largest Config.AlternateRoots.
	MaxAlternateRoots = 16
	// LeafIssuerRSA makes the RSA intermediate sign every leaf.
	LeafIssuerRSA = "rsa"
	// LeafIssuerECDSA makes the ECDSA intermediate sign every leaf.
	LeafIssuerECDSA = "ecdsa"
)

// Deps are the collaborators of a Hierarchy.
type Deps struct {
	// Clock supplies "now" for every certificate. Required.
	Clock clock.PassiveClock
	// Rand supplies serial numbers and signature randomness; nil means
	// crypto/rand.Reader. It must be safe for concurrent use. Since Go 1.26
	// key generation always uses the system's secure source regardless.
	Rand io.Reader
}

// Validate reports the first problem in c. Messages start with the YAML
// path of the offending field, e.g. "pki.crlShards: must be > 0".
func (c Config) Validate() error {
	if _, ok := lookupPreset(c.Hierarchy); !ok {
		return fmt.Errorf("pki.hierarchy: unknown preset %q (want one of %s)",
			c.Hierarchy, strings.Join(presetNames(), ", "))
	}
	if err := validateBaseURL(c.AIABaseURL); err != nil {
		return fmt.Errorf("pki.aiaBaseURL: %w", err)
	}
	if err := validateBaseURL(c.CRLBaseURL); err != nil {
		return fmt.Errorf("pki.crlBaseURL: %w", err)
	}
	if err := validateURL(c.OCSPBaseURL); err != nil {
		return fmt.Errorf("pki.ocspBaseURL: %w", err)
	}
	if c.CRLShards < 0 {
		return fmt.Errorf("pki.crlShards: must be > 0 (or 0 for the default %d), got %d",
			DefaultCRLShards, c.CRLShards)
	}
	return c.validateShape()
}

// validateShape checks ChainLength, AlternateRoots and LeafIssuer.
func (c Config) validateShape() error {
	if c.ChainLength < 0 || c.ChainLength > MaxChainLength {
		return fmt.Errorf("pki.chainLength: must be 1..%d (or 0 for 1), got %d", MaxChainLength, c.ChainLength)
	}
	if c.AlternateRoots < 0 || c.AlternateRoots > MaxAlternateRoots {
		return fmt.Errorf("pki.alternateRoots: must be 0..%d, got %d", MaxAlternateRoots, c.AlternateRoots)
	}
	switch c.LeafIssuer {
	case "", LeafIssuerRSA, LeafIssuerECDSA:
		return nil
	}
	return fmt.Errorf("pki.leafIssuer: must be %q, %q or empty, got %q", LeafIssuerRSA, LeafIssuerECDSA, c.LeafIssuer)
}

// chainLength returns the effective ChainLength.
func (c Config) chainLength() int {
	return max(c.ChainLength, 1)
}

// shards returns the effective CRL shard count.
func (c Config) shards() int {
	if c.CRLShards == 0 {
		return DefaultCRLShards
	}
	return c.CRLShards
}

// validateBaseURL accepts "" or an absolute http(s) URL ending in "/".
func validateBaseURL(s string) error {
	if err := validateURL(s); err != nil || s == "" {
		return err
	}
	if !strings.HasSuffix(s, "/") {
		return fmt.Errorf("must end with \"/\", got %q", s)
	}
	return nil
}

// validateURL accepts "" or an absolute http(s) URL with a host and without
// query or fragment.
func validateURL(s string) error {
	if s == "" {
		return nil
	}
	for _, r := range s {
		if r > unicode.MaxASCII {
			// Certificates and CRLs carry URLs as IA5String.
			return fmt.Errorf("must be ASCII (punycode and %%-escapes are fine), got %q", s)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be an absolute http or https URL, got %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an absolute http or https URL, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("must name a host, got %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("must not have a query or fragment, got %q", s)
	}
	return nil
}

// withDefaults checks d and fills in defaults.
func (d Deps) withDefaults() (Deps, error) {
	if d.Clock == nil {
		return d, errors.New("pki: Deps.Clock is required")
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	return d, nil
}
