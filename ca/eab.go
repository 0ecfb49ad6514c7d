package ca

import (
	"encoding/json"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fakeca/fakeca/acme"
)

// External account binding texts. Let's Encrypt does not use EAB; the
// wording follows RFC 8555 §7.3.4 and Pebble (reference/pebble.md).
const (
	detailEABRequired   = "External account binding required"
	detailEABMalformed  = "External account binding JWS is malformed: %s"
	detailEABUnknownKID = "External account binding key ID %q is unknown"
	detailEABSignature  = "External account binding JWS signature is invalid"
	detailEABWrongKey   = "External account binding JWS payload is not the account key"
)

var eabAlgs = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}

// checkEAB verifies an externalAccountBinding and returns its key ID; an
// absent binding is fine unless the configuration requires one.
func (s *Server) checkEAB(r *http.Request, req signedRequest, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if s.cfg.ExternalAccountRequired {
			return "", acme.New(acme.ExternalAccountRequired, detailEABRequired)
		}
		return "", nil
	}
	jws, err := jose.ParseSignedJSON(string(raw), eabAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", acme.New(acme.Malformed, detailEABMalformed, "not a flattened JWS with one HMAC signature")
	}
	hdr := jws.Signatures[0].Protected
	if hdr.Nonce != "" {
		return "", acme.New(acme.Malformed, detailEABMalformed, "nonce must be absent")
	}
	if u, _ := hdr.ExtraHeaders["url"].(string); u != s.linkerFor(r).url(s.paths.newAccount) {
		return "", acme.New(acme.Malformed, detailEABMalformed, "url must be the newAccount URL")
	}
	key, ok := s.eabKeys[hdr.KeyID]
	if !ok {
		return "", acme.New(acme.Unauthorized, detailEABUnknownKID, hdr.KeyID)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return "", acme.New(acme.Unauthorized, detailEABSignature)
	}
	inner, err := parseJWK(payload)
	if err != nil || !sameKey(inner, req.jwk) {
		return "", acme.New(acme.Malformed, detailEABWrongKey)
	}
	return hdr.KeyID, nil
}
