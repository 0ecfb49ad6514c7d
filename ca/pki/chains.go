package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// caSource makes the CA certificates that Config.ChainLength and
// Config.AlternateRoots add to the built-in hierarchy. A generator creates
// them (and records them for Config.Dir); a replayer reads them back from
// that record, checking each against what the builder asks for, so one
// builder serves both.
type caSource interface {
	// sign returns a certificate for tmpl's subject and key, signed by
	// parentKey (self-signed when parent is nil), and that key. A nil key
	// asks for a new ECDSA P-256 key.
	sign(tmpl, parent *x509.Certificate, parentKey, key crypto.Signer) (*x509.Certificate, crypto.Signer, error)
}

// generator is the caSource that creates keys and certificates.
type generator struct {
	rand   io.Reader
	record *bytes.Buffer // PEM of every new key and certificate; nil: none
}

func (g *generator) sign(tmpl, parent *x509.Certificate, parentKey, key crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	fresh := key == nil
	if fresh {
		k, err := ecdsa.GenerateKey(elliptic.P256(), g.rand)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: generating CA key: %w", err)
		}
		key = k
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	cert, err := signCA(tmpl, parent, key.Public(), parentKey, g.rand)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: creating %q: %w", tmpl.Subject.CommonName, err)
	}
	if g.record != nil {
		if fresh {
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return nil, nil, err
			}
			_ = pem.Encode(g.record, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
		_ = pem.Encode(g.record, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	return cert, key, nil
}

// replayer is the caSource that reads a generator's record.
type replayer struct {
	rest []byte
}

func (r *replayer) sign(tmpl, parent *x509.Certificate, _, key crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	if key == nil {
		block, err := r.next("PRIVATE KEY")
		if err != nil {
			return nil, nil, err
		}
		if err := decodeSlot(slot{key: &key}, block); err != nil {
			return nil, nil, err
		}
	}
	block, err := r.next("CERTIFICATE")
	if err != nil {
		return nil, nil, err
	}
	var cert *x509.Certificate
	if err := decodeSlot(slot{cert: &cert}, block); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent = cert
	}
	pub, _ := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	switch {
	case cert.Subject.String() != tmpl.Subject.String():
		return nil, nil, fmt.Errorf("found %q where %q belongs", cert.Subject.CommonName, tmpl.Subject.CommonName)
	case pub == nil || !pub.Equal(cert.PublicKey):
		return nil, nil, fmt.Errorf("%q does not match its key", cert.Subject.CommonName)
	case cert.CheckSignatureFrom(parent) != nil:
		return nil, nil, fmt.Errorf("%q is not signed by %q", cert.Subject.CommonName, parent.Subject.CommonName)
	}
	return cert, key, nil
}

// next returns the next PEM block, which must have the given type,
// re-encoded for decodeSlot.
func (r *replayer) next(typ string) ([]byte, error) {
	block, rest := pem.Decode(r.rest)
	if block == nil {
		return nil, fmt.Errorf("ends before the %s it should hold next", typ)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("PEM type %q, want %s", block.Type, typ)
	}
	r.rest = rest
	return pem.EncodeToMemory(block), nil
}

// extraCAs are the roots and chains that ChainLength and AlternateRoots add.
type extraCAs struct {
	altRoots    []*x509.Certificate
	altRootKeys []crypto.Signer
	// chains maps an issuer ID to its extra chains, leaf-signing
	// certificate first: the default chain when ChainLength > 1 (then
	// index 0), followed by one chain per alternate root.
	chains map[string][][]*x509.Certificate
}

// issuerBase is a leaf-signing intermediate as the builder needs it.
type issuerBase struct {
	id   string
	cert *x509.Certificate // as signed by its built-in root
	key  crypto.Signer
	root *x509.Certificate // its built-in root
	rkey crypto.Signer
}

// buildExtras makes the extra CAs for cfg from src, in a fixed order so a
// replayer meets them as the generator made them.
func buildExtras(cfg Config, p preset, issuers []issuerBase, src caSource) (extraCAs, error) {
	x := extraCAs{chains: map[string][][]*x509.Certificate{}}
	n := cfg.chainLength()
	if n > 1 {
		for _, iss := range issuers {
			chain, err := chainUnder(src, iss.root, iss.rkey, iss, n, "")
			if err != nil {
				return x, err
			}
			x.chains[iss.id] = append(x.chains[iss.id], chain)
		}
	}
	for k := 1; k <= cfg.AlternateRoots; k++ {
		base := issuers[0].root
		name := p.rsaRoot
		name.CommonName += " Alternate " + strconv.Itoa(k)
		root, key, err := src.sign(rootTemplate(name, base.NotBefore, base.NotAfter), nil, nil, nil)
		if err != nil {
			return x, err
		}
		x.altRoots, x.altRootKeys = append(x.altRoots, root), append(x.altRootKeys, key)
		for _, iss := range issuers {
			chain, err := chainUnder(src, root, key, iss, n, " Alternate "+strconv.Itoa(k))
			if err != nil {
				return x, err
			}
			x.chains[iss.id] = append(x.chains[iss.id], chain)
		}
	}
	return x, nil
}

// chainUnder builds n intermediates below root ending in a copy of iss's
// certificate (same subject and key) and returns them leaf-side first:
// [iss, link n-1, …, link 1]. Links are named after the issuer plus suffix.
func chainUnder(src caSource, root *x509.Certificate, rootKey crypto.Signer, iss issuerBase, n int, suffix string) ([]*x509.Certificate, error) {
	parent, parentKey := root, rootKey
	links := make([]*x509.Certificate, 0, n)
	for i := 1; i < n; i++ {
		name := iss.cert.Subject
		name.CommonName += " Link " + strconv.Itoa(i) + suffix
		link, key, err := src.sign(linkTemplate(name, iss.cert), parent, parentKey, nil)
		if err != nil {
			return nil, err
		}
		links = append([]*x509.Certificate{link}, links...)
		parent, parentKey = link, key
	}
	tmpl := intTemplate(iss.cert.Subject, iss.cert.NotBefore, iss.cert.NotAfter)
	cert, _, err := src.sign(tmpl, parent, parentKey, iss.key)
	if err != nil {
		return nil, err
	}
	return append([]*x509.Certificate{cert}, links...), nil
}

// linkTemplate describes an intermediate between a root and a leaf-signing
// intermediate: like intTemplate, with iss's validity, but without a path
// length limit.
func linkTemplate(name pkix.Name, iss *x509.Certificate) *x509.Certificate {
	t := intTemplate(name, iss.NotBefore, iss.NotAfter)
	t.MaxPathLen, t.MaxPathLenZero = -1, false
	return t
}

// obtainExtras replays the extra CAs from cfg.Dir, or builds them (and
// records them there when cfg.Dir is set). The file's name carries the
// shape, so changing ChainLength or AlternateRoots makes a new set while
// the built-in keys, and so every issued leaf, stay valid.
func obtainExtras(cfg Config, p preset, issuers []issuerBase, r io.Reader) (extraCAs, error) {
	if cfg.chainLength() <= 1 && cfg.AlternateRoots == 0 {
		return extraCAs{}, nil
	}
	if cfg.Dir == "" {
		return buildExtras(cfg, p, issuers, &generator{rand: r})
	}
	path := filepath.Join(cfg.Dir, fmt.Sprintf("chains-c%d-a%d.pem", cfg.chainLength(), cfg.AlternateRoots))
	data, err := os.ReadFile(path)
	if err == nil {
		rp := &replayer{rest: data}
		x, err := buildExtras(cfg, p, issuers, rp)
		if err == nil && len(bytes.TrimSpace(rp.rest)) > 0 {
			err = errors.New("holds more than the hierarchy needs")
		}
		if err != nil {
			return x, fmt.Errorf("pki.dir: %s: %w; remove it to generate new chains", path, err)
		}
		return x, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return extraCAs{}, fmt.Errorf("pki.dir: %w", err)
	}
	g := &generator{rand: r, record: &bytes.Buffer{}}
	x, err := buildExtras(cfg, p, issuers, g)
	if err != nil {
		return x, err
	}
	if err := writeAtomic(path, g.record.Bytes(), 0o600); err != nil {
		return x, fmt.Errorf("pki.dir: %w", err)
	}
	return x, nil
}
