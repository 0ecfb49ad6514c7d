package ca

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fakeca/fakeca/store"
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

// accountKeys caches parsed account keys by account ID: parsing a JWK
// (big integers, curve points) on every request was a measurable share of
// request CPU. An entry is valid while the account's KeyID is unchanged,
// so a key change simply misses. Safe for concurrent use, lock-free reads.
type accountKeys struct{ m sync.Map } // int64 → cachedKey

type cachedKey struct {
	keyID string
	jwk   *jose.JSONWebKey // shared read-only: never mutated after parsing
}

// accountKey returns the account's parsed public key.
func (s *Server) accountKey(a store.Account) (*jose.JSONWebKey, error) {
	if v, ok := s.keys.m.Load(a.ID); ok && v.(cachedKey).keyID == a.KeyID {
		return v.(cachedKey).jwk, nil
	}
	jwk, err := parseJWK(a.JWK)
	if err != nil {
		return nil, err
	}
	s.keys.m.Store(a.ID, cachedKey{keyID: a.KeyID, jwk: jwk})
	return jwk, nil
}

// keyID is the RFC 7638 SHA-256 thumbprint of a JWK, base64url.
func keyID(k *jose.JSONWebKey) (string, error) {
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return b64Encode(tp), nil
}
