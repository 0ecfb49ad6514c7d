package ca

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// b64Decode decodes base64url with or without padding.
func b64Decode(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func b64Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func parseJWK(raw []byte) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return &k, nil
}

// keyID is the RFC 7638 SHA-256 thumbprint of a JWK, base64url.
func keyID(k *jose.JSONWebKey) (string, error) {
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return b64Encode(tp), nil
}
