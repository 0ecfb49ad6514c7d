package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sigParams is how an issuer signs CRLs and OCSP responses, chosen once at
// New as crypto/x509 chooses for certificates: SHA-256 with RSA (PKCS #1
// v1.5), ECDSA with the hash matching the curve.
type sigParams struct {
	hash crypto.Hash // digest of the signed bytes
	alg  []byte      // DER AlgorithmIdentifier
}

// newSigParams picks the signature parameters for a key.
func newSigParams(pub crypto.PublicKey) (sigParams, error) {
	var (
		hf         crypto.Hash
		oid        asn1.ObjectIdentifier
		nullParams bool // RSA algorithm identifiers carry NULL parameters
	)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		hf, oid, nullParams = crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, true
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			hf, oid = crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		case elliptic.P384():
			hf, oid = crypto.SHA384, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
		case elliptic.P521():
			hf, oid = crypto.SHA512, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
		default:
			return sigParams{}, fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, pub.Curve.Params().Name)
		}
	default:
		return sigParams{}, fmt.Errorf("%w: %T cannot sign CRLs or OCSP responses", ErrUnsupportedKey, pub)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
	alg, err := b.Bytes()
	return sigParams{hash: hf, alg: alg}, err
}

// sign signs tbs and returns the X.509-style signed structure
// SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }, the shape of
// both a CertificateList and a BasicOCSPResponse without certificates.
func (iss *Issuer) sign(r io.Reader, tbs []byte) ([]byte, error) {
	sig, err := iss.signer.Sign(r, digest(iss.sig.hash, tbs), iss.sig.hash)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(iss.sig.alg)
		b.AddASN1BitString(sig)
	})
	return b.Bytes()
}

// digest hashes data with hf, which must be linked in.
func digest(hf crypto.Hash, data []byte) []byte {
	d := hf.New()
	d.Write(data)
	return d.Sum(nil)
}
