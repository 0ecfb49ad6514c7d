package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
)

func TestKeyPEM(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	type pemFunc func(int) ([]byte, error)
	tests := []struct {
		name  string
		get   pemFunc
		certs []*x509.Certificate
	}{
		{name: "roots", get: h.RootKeyPEM, certs: h.Roots()},
		{name: "intermediates", get: h.IntermediateKeyPEM, certs: []*x509.Certificate{h.Issuers()[0].Cert, h.Issuers()[1].Cert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, cert := range tt.certs {
				data, err := tt.get(i)
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
			for _, i := range []int{-1, len(tt.certs)} {
				if data, err := tt.get(i); !errors.Is(err, ErrNoSuchKey) || data != nil {
					t.Errorf("key %d: %q, %v; want ErrNoSuchKey", i, data, err)
				}
			}
		})
	}
}
