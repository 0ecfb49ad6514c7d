package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// RootKeyPEM returns the private key of Roots()[i] as PKCS #8 PEM
// ("PRIVATE KEY"), for Pebble's /root-keys/<i> management endpoint: index 0
// is the RSA root, 1 the ECDSA root, then the alternate roots. An
// out-of-range i gives ErrNoSuchKey.
// The keys are secrets: serve them only on the management listener.
func (h *Hierarchy) RootKeyPEM(i int) ([]byte, error) {
	return keyPEM(h.rootKeys, i)
}

// IntermediateKeyPEM returns the private key of Intermediates()[i] as
// PKCS #8 PEM, for Pebble's /intermediate-keys/<i> endpoint. An
// out-of-range i gives ErrNoSuchKey.
func (h *Hierarchy) IntermediateKeyPEM(i int) ([]byte, error) {
	keys := []crypto.Signer{h.rsaIssuer.signer, h.ecIssuer.signer}
	if h.leafIssuer != nil {
		keys = make([]crypto.Signer, len(h.chains[h.leafIssuer.ID]))
		for j := range keys {
			keys[j] = h.leafIssuer.signer
		}
	}
	return keyPEM(keys, i)
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
