package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"hash"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// signJWS builds a flattened JSON JWS by hand, so that tests can send
// anything: an algorithm the key cannot honour, an unsupported one, extra
// or missing header fields. key is a crypto.Signer or, for HMAC, []byte.
// The hash follows the "alg" suffix (256/384/512).
func signJWS(t testing.TB, key any, header map[string]any, payload []byte) []byte {
	t.Helper()
	prot, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	input := b64Encode(prot) + "." + b64Encode(payload)
	alg, _ := header["alg"].(string)
	sig := rawSignature(t, key, alg, []byte(input))
	out, err := json.Marshal(map[string]string{
		"protected": b64Encode(prot), "payload": b64Encode(payload), "signature": b64Encode(sig)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rawSignature(t testing.TB, key any, alg string, input []byte) []byte {
	t.Helper()
	h, ch := hashFor(alg)
	h.Write(input)
	digest := h.Sum(nil)
	var (
		sig []byte
		err error
	)
	switch k := key.(type) {
	case []byte:
		m := hmac.New(func() hash.Hash { hh, _ := hashFor(alg); return hh }, k)
		m.Write(input)
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, ch, digest)
	case *ecdsa.PrivateKey:
		var r, s []byte
		r, s, err = ecdsaSign(k, digest)
		sig = append(r, s...)
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, input)
	default:
		t.Fatalf("signJWS: unsupported key %T", key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// ecdsaSign returns r and s left-padded to the curve's size (RFC 7518 §3.4).
func ecdsaSign(k *ecdsa.PrivateKey, digest []byte) ([]byte, []byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, k, digest)
	if err != nil {
		return nil, nil, err
	}
	size := (k.Curve.Params().BitSize + 7) / 8
	return r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size)), nil
}

func hashFor(alg string) (hash.Hash, crypto.Hash) {
	switch {
	case strings.HasSuffix(alg, "384"):
		return sha512.New384(), crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return sha512.New(), crypto.SHA512
	}
	return sha256.New(), crypto.SHA256
}

// algFor is the JWS algorithm that matches key.
func algFor(key any) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return "RS256"
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
		return "ES256"
	case ed25519.PrivateKey:
		return "EdDSA"
	case []byte:
		return "HS256"
	}
	return "none"
}

// jwkOf is pub as a JWK, ready to embed in a header.
func jwkOf(t testing.TB, pub crypto.PublicKey) json.RawMessage {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: pub}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// thumbprint is the RFC 7638 thumbprint of pub, base64url.
func thumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b64Encode(tp)
}
