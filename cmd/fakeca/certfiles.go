package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fakeca/fakeca/client"
)

// Files in a certificate directory (--out).
const (
	fileKey       = "privkey.pem"   // the certificate's private key, 0600
	fileCert      = "cert.pem"      // the leaf
	fileChain     = "chain.pem"     // the intermediates
	fileFullchain = "fullchain.pem" // leaf + intermediates
	fileRenewal   = "renewal.json"  // renew's state: failures, backoff, ARI
)

// defaultOutDir is ./fakeca-certs/<first name>, with "*" written "_".
func defaultOutDir(names []string) string {
	return filepath.Join("fakeca-certs", strings.ReplaceAll(names[0], "*", "_"))
}

// outDir is --out, or the default for the names.
func outDir(out string, names []string) (string, error) {
	if out != "" {
		return out, nil
	}
	if len(names) == 0 {
		return "", errors.New("give -d NAME or --out DIR")
	}
	return defaultOutDir(names), nil
}

// writeCertFiles writes key, leaf, chain and full chain into dir.
func writeCertFiles(dir string, crt *client.Certificate) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	key, err := client.MarshalKey(crt.Key)
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{fileKey, key, 0o600},
		{fileCert, client.EncodeCerts(crt.Chain[:1]), 0o644},
		{fileChain, client.EncodeCerts(crt.Chain[1:]), 0o644},
		{fileFullchain, client.EncodeCerts(crt.Chain), 0o644},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFileAtomic(p, f.data, f.perm); err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// readLeaf reads dir/cert.pem; nil without error if it does not exist.
func readLeaf(path string) (*x509.Certificate, []byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	certs, err := client.ParseCerts(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs[0], certs[0].Raw, nil
}

// readKey reads a PEM private key file.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := client.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// certNames lists a certificate's DNS names and IPs, CN first if it is
// one of them.
func certNames(c *x509.Certificate) []string {
	var names []string
	if slices.Contains(c.DNSNames, c.Subject.CommonName) {
		names = append(names, c.Subject.CommonName)
	}
	for _, n := range c.DNSNames {
		if n != c.Subject.CommonName {
			names = append(names, n)
		}
	}
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// readState reads renew's state; a missing file is the zero state.
func readState(path string) (client.RenewalState, error) {
	var s client.RenewalState
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// writeState writes renew's state next to the certificate.
func writeState(path string, s client.RenewalState) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644)
}
