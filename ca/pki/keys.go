package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// RootKeyPEM returns the private key of Roots()[i] as PKCS #8 PEM
// ("PRIVATE KEY"), for Pebble's /root-keys/<i> management endpoint: index 0
// is the RSA root, 1 the ECDSA root. An out-of-range i gives ErrNoSuchKey.
// The keys are secrets: serve them only on the management listener.
func (h *Hierarchy) RootKeyPEM(i int) ([]byte, error) {
	return keyPEM([]crypto.Signer{h.rsaRootKey, h.ecRootKey}, i)
}

// IntermediateKeyPEM returns the private key of Issuers()[i] as PKCS #8 PEM,
// for Pebble's /intermediate-keys/<i> endpoint: index 0 is the RSA
// intermediate, 1 the ECDSA one. An out-of-range i gives ErrNoSuchKey.
func (h *Hierarchy) IntermediateKeyPEM(i int) ([]byte, error) {
	return keyPEM([]crypto.Signer{h.rsaIssuer.signer, h.ecIssuer.signer}, i)
}

// keyPEM encodes keys[i] as PKCS #8 PEM.
func keyPEM(keys []crypto.Signer, i int) ([]byte, error) {
	if i < 0 || i >= len(keys) {
		return nil, fmt.Errorf("%w: index %d (have %d)", ErrNoSuchKey, i, len(keys))
	}
	der, err := x509.MarshalPKCS8PrivateKey(keys[i])
	if err != nil {
		return nil, fmt.Errorf("pki: encoding key %d: %w", i, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
