package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"
)

func TestKeyPEM(t *testing.T) {
	for _, cfg := range []Config{{}, {LeafIssuer: LeafIssuerRSA, AlternateRoots: 2, ChainLength: 2}, {LeafIssuer: LeafIssuerECDSA, AlternateRoots: 1}} {
		h, _ := newHierarchy(t, cfg)
		type pemFunc func(int) ([]byte, error)
		tests := []struct {
			name  string
			get   pemFunc
			certs []*x509.Certificate
		}{
			{name: "roots", get: h.RootKeyPEM, certs: h.Roots()},
			{name: "intermediates", get: h.IntermediateKeyPEM, certs: h.Intermediates()},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%+v/%s", cfg, tt.name), func(t *testing.T) {
				checkKeyPEM(t, tt.get, tt.certs)
			})
		}
	}
}

// checkKeyPEM checks that get(i) is the key of certs[i] and that indexes
// out of range give ErrNoSuchKey.
func checkKeyPEM(t *testing.T, get func(int) ([]byte, error), certs []*x509.Certificate) {
	for i, cert := range certs {
		data, err := get(i)
		if err != nil {
			t.Fatal(err)
		}
		block, rest := pem.Decode(data)
		if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
			t.Fatalf("key %d: want one PRIVATE KEY block, got %q", i, data)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pub := key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
		if !pub.Equal(cert.PublicKey) {
			t.Errorf("key %d does not match %s", i, cert.Subject.CommonName)
		}
	}
	for _, i := range []int{-1, len(certs)} {
		if data, err := get(i); !errors.Is(err, ErrNoSuchKey) || data != nil {
			t.Errorf("key %d: %q, %v; want ErrNoSuchKey", i, data, err)
		}
	}
}

// TestPebbleView checks that with Config.LeafIssuer, Roots()[i] and
// Intermediates()[i] belong to the leaf issuer's chain i, as Pebble's
// /roots/<i> and /intermediates/<i> do, and that its chains are one per
// root: ChainLength intermediates each, no cross-signed root.
func TestPebbleView(t *testing.T) {
	for _, li := range []string{LeafIssuerRSA, LeafIssuerECDSA} {
		h, clk := newHierarchy(t, Config{LeafIssuer: li, AlternateRoots: 2, ChainLength: 2})
		leaf := issue(t, h, newTestKey(t, "p256"), DefaultProfiles()["classic"], "a.example")
		chains, roots, ints := h.Chains(leaf.Issuer.ID), h.Roots(), h.Intermediates()
		if len(chains) != 3 || len(ints) != len(chains) || len(roots) != 4 {
			t.Fatalf("%s: %d intermediates, %d chains, %d roots", li, len(ints), len(chains), len(roots))
		}
		for i, chain := range chains {
			if len(chain) != 2 {
				t.Errorf("%s: chain %d has %d certificates, want 2", li, i, len(chain))
			}
			if !ints[i].Equal(chain[0]) {
				t.Errorf("%s: Intermediates()[%d] is not chain %d's first certificate", li, i, i)
			}
			_, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool(roots[i]), Intermediates: pool(chain...),
				CurrentTime: clk.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				t.Errorf("%s: chain %d under Roots()[%d]: %v", li, i, i, err)
			}
		}
	}
}
