package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// BundleFile is the name of the trust bundle (all roots, PEM) that New
// writes into Config.Dir next to the keys, for users to point tools at. It
// is derived data: New never reads it.
const BundleFile = "bundle.pem"

// slot is one persisted file: either a certificate or a private key.
type slot struct {
	name string
	cert **x509.Certificate
	key  *crypto.Signer
}

// slots lists the files of a hierarchy in Config.Dir, pointing into m.
func slots(m *material) []slot {
	return []slot{
		{name: "root-rsa.pem", cert: &m.rsaRoot},
		{name: "root-rsa.key", key: &m.rsaRootKey},
		{name: "root-ecdsa.pem", cert: &m.ecRoot},
		{name: "root-ecdsa.key", key: &m.ecRootKey},
		{name: "root-ecdsa-cross.pem", cert: &m.ecCross},
		{name: "int-rsa.pem", cert: &m.rsaInt},
		{name: "int-rsa.key", key: &m.rsaIntKey},
		{name: "int-ecdsa.pem", cert: &m.ecInt},
		{name: "int-ecdsa.key", key: &m.ecIntKey},
	}
}

// load reads a hierarchy from dir. found is false when dir holds none of its
// files (or does not exist); a partial or inconsistent set is an error.
func load(dir string, p preset) (m material, found bool, err error) {
	var missing []string
	for _, s := range slots(&m) {
		data, err := os.ReadFile(filepath.Join(dir, s.name))
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, s.name)
			continue
		}
		if err != nil {
			return m, false, fmt.Errorf("pki.dir: %w", err)
		}
		if err := decodeSlot(s, data); err != nil {
			return m, false, fmt.Errorf("pki.dir: %s: %w", filepath.Join(dir, s.name), err)
		}
	}
	switch {
	case len(missing) == len(slots(&m)):
		return m, false, nil
	case len(missing) > 0:
		return m, false, fmt.Errorf("pki.dir: %s holds an incomplete hierarchy (missing %s); "+
			"restore the files or remove the directory to generate a new one",
			dir, strings.Join(missing, ", "))
	}
	if err := checkMaterial(m, p); err != nil {
		return m, false, fmt.Errorf("pki.dir: %s: %w", dir, err)
	}
	return m, true, nil
}

// decodeSlot parses one PEM file into its slot.
func decodeSlot(s slot, data []byte) error {
	block, _ := pem.Decode(data)
	if block == nil {
		return errors.New("no PEM block")
	}
	if s.cert != nil {
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM type %q, want CERTIFICATE", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		*s.cert = c
		return err
	}
	if block.Type != "PRIVATE KEY" {
		return fmt.Errorf("PEM type %q, want PRIVATE KEY", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return fmt.Errorf("key type %T cannot sign", k)
	}
	*s.key = signer
	return nil
}

// checkMaterial verifies that loaded files form the hierarchy New expects:
// key types, key/certificate pairs, signatures and the preset's names.
func checkMaterial(m material, p preset) error {
	pairs := []struct {
		what string
		cert *x509.Certificate
		key  crypto.Signer
		alg  x509.PublicKeyAlgorithm
	}{
		{"RSA root", m.rsaRoot, m.rsaRootKey, x509.RSA},
		{"ECDSA root", m.ecRoot, m.ecRootKey, x509.ECDSA},
		{"ECDSA cross-signed root", m.ecCross, m.ecRootKey, x509.ECDSA},
		{"RSA intermediate", m.rsaInt, m.rsaIntKey, x509.RSA},
		{"ECDSA intermediate", m.ecInt, m.ecIntKey, x509.ECDSA},
	}
	for _, pr := range pairs {
		if pr.cert.PublicKeyAlgorithm != pr.alg {
			return fmt.Errorf("%s key is %s, want %s", pr.what, pr.cert.PublicKeyAlgorithm, pr.alg)
		}
		pub, ok := pr.key.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(pr.cert.PublicKey) {
			return fmt.Errorf("%s certificate does not match its key", pr.what)
		}
	}
	sigs := []struct {
		what          string
		child, parent *x509.Certificate
	}{
		{"RSA root", m.rsaRoot, m.rsaRoot},
		{"ECDSA root", m.ecRoot, m.ecRoot},
		{"ECDSA cross-signed root", m.ecCross, m.rsaRoot},
		{"RSA intermediate", m.rsaInt, m.rsaRoot},
		{"ECDSA intermediate", m.ecInt, m.ecRoot},
	}
	for _, s := range sigs {
		if err := s.child.CheckSignatureFrom(s.parent); err != nil {
			return fmt.Errorf("%s signature: %w", s.what, err)
		}
	}
	return checkNames(m, p)
}

// checkNames rejects a directory generated for another preset.
func checkNames(m material, p preset) error {
	if m.rsaRoot.Subject.String() == p.rsaRoot.String() &&
		m.ecRoot.Subject.String() == p.ecRoot.String() &&
		m.rsaInt.Subject.String() == p.rsaInt.String() &&
		m.ecInt.Subject.String() == p.ecInt.String() {
		return nil
	}
	other := "an unknown"
	for _, q := range presetTable() {
		if m.rsaRoot.Subject.String() == q.rsaRoot.String() {
			other = fmt.Sprintf("a %q", q.name)
		}
	}
	return fmt.Errorf("holds %s hierarchy, but pki.hierarchy is %q; "+
		"use another directory or remove this one", other, p.name)
}

// save writes m and the trust bundle into dir (created with mode 0700).
// Keys get mode 0600. Each file is written atomically.
func save(dir string, m material) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki.dir: %w", err)
	}
	for _, s := range slots(&m) {
		data, mode, err := encodeSlot(s)
		if err != nil {
			return fmt.Errorf("pki.dir: %s: %w", s.name, err)
		}
		if err := writeAtomic(filepath.Join(dir, s.name), data, mode); err != nil {
			return fmt.Errorf("pki.dir: %w", err)
		}
	}
	if err := writeAtomic(filepath.Join(dir, BundleFile), encodeCerts(m.rsaRoot, m.ecRoot), 0o644); err != nil {
		return fmt.Errorf("pki.dir: %w", err)
	}
	return nil
}

// encodeSlot PEM-encodes one slot and returns the file mode it needs.
func encodeSlot(s slot) ([]byte, fs.FileMode, error) {
	if s.cert != nil {
		return encodeCerts(*s.cert), 0o644, nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(*s.key)
	if err != nil {
		return nil, 0, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600, nil
}

// writeAtomic writes data to a temporary file in the same directory, sets
// mode, and renames it over path.
func writeAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
