package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// maxBodyBytes is Boulder's request body limit.
const maxBodyBytes = 50000

// JWS problem texts. The badNonce, account-lookup and url texts are quoted
// in reference §8; the others are Boulder's wfe2/verify.go wording as best
// known (unverified against a live server).
const (
	detailNoContentType     = `No Content-Type header on POST. Content-Type must be "application/jose+json"`
	detailBadContentType    = `Invalid Content-Type header on POST. Content-Type must be "application/jose+json"`
	detailBodyTooLarge      = "request body too large"
	detailParseJWS          = "Parse error reading JWS"
	detailTooManySigs       = "Too many signatures in POST body"
	detailNoSigs            = "POST JWS not signed"
	detailUnprotectedHeader = `JWS "header" field not allowed. All headers must be in "protected" field`
	detailBadAlg            = "JWS signature header contains unsupported algorithm %q, expected one of RS256, ES256, ES384 or ES512"
	detailAlgKeyMismatch    = "JWS signature header algorithm %q does not match expected algorithm %q for JWK"
	detailBadNonce          = "JWS has an invalid anti-replay nonce"
	detailNoURL             = "JWS header parameter 'url' required"
	detailWrongURL          = "JWS header parameter 'url' incorrect. Expected %q got %q"
	detailJWKAndKID         = `jwk and kid header fields are mutually exclusive`
	detailNoJWK             = "No embedded JWK in JWS header"
	detailNoKID             = "No Key ID in JWS header"
	detailBadJWK            = "Unable to validate JWS :: Request signing key is not a valid JWK"
	detailBadKIDURL         = "Unable to validate JWS :: KeyID header contained an invalid account URL: %q"
	detailAccountNotFound   = "Unable to validate JWS :: Account %q not found"
	detailAccountNotValid   = "Unable to validate JWS :: Account is not valid, has status %q"
	detailVerifyFailed      = "JWS verification error"
	detailPostAsGetNotEmpty = "POST-as-GET requests must have an empty payload"
	contentTypeJOSE         = "application/jose+json"
)

// allowedAlgs are the JWS algorithms Boulder accepts for account keys.
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384, jose.ES512}

// keyMode says how a request must identify its signing key.
type keyMode int

const (
	byKID    keyMode = iota // account URL in "kid" (most endpoints)
	byJWK                   // embedded "jwk" (new-account, inner key-change)
	byEither                // revoke-cert
)

// signedRequest is a verified JWS request.
type signedRequest struct {
	payload []byte
	jwk     *jose.JSONWebKey
	acct    store.Account // set when the key came from "kid"
	hasAcct bool
	url     string
}

// verifyPOST authenticates a POST request: content type, size, JWS shape,
// algorithm, nonce, url and signature, in Boulder's order.
func (s *Server) verifyPOST(r *http.Request, mode keyMode) (signedRequest, error) {
	if err := checkContentType(r); err != nil {
		return signedRequest{}, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return signedRequest{}, &acme.Error{Type: acme.Malformed, Detail: detailBodyTooLarge, Status: http.StatusRequestEntityTooLarge}
		}
		return signedRequest{}, acme.New(acme.Malformed, detailParseJWS)
	}
	jws, sig, err := parseJWS(body)
	if err != nil {
		return signedRequest{}, err
	}
	hdr := sig.Protected
	// Boulder renders every nonce failure, a missing one included, with
	// one text (reference §8).
	if hdr.Nonce == "" || !s.nonces.redeem(hdr.Nonce) {
		return signedRequest{}, acme.New(acme.BadNonce, detailBadNonce)
	}
	want := s.linkerFor(r).url(r.URL.Path)
	got, ok := hdr.ExtraHeaders["url"].(string)
	if !ok || got == "" {
		return signedRequest{}, acme.New(acme.Malformed, detailNoURL)
	}
	if got != want {
		return signedRequest{}, acme.New(acme.Malformed, detailWrongURL, want, got)
	}
	req := signedRequest{url: got}
	if err := s.resolveKey(r, &req, hdr, mode); err != nil {
		return signedRequest{}, err
	}
	if err := checkAlgForKey(hdr.Algorithm, req.jwk); err != nil {
		return signedRequest{}, err
	}
	payload, err := jws.Verify(req.jwk)
	if err != nil {
		return signedRequest{}, acme.New(acme.Malformed, detailVerifyFailed)
	}
	req.payload = payload
	if s.cfg.Strict && hasResourceField(payload) {
		return signedRequest{}, acme.New(acme.Malformed, detailStrictResource)
	}
	return req, nil
}

// detailStrictResource and detailStrictChallenge are strict mode's
// refusals (Pebble's -strict, reference §1.12).
const (
	detailStrictResource  = "Request contains an ACME v1 \"resource\" field"
	detailStrictChallenge = "Challenge POST body must be exactly {}"
)

// hasResourceField reports whether payload is a JSON object with a
// non-empty ACME v1 "resource" member.
func hasResourceField(payload []byte) bool {
	var v struct {
		Resource string `json:"resource"`
	}
	return json.Unmarshal(payload, &v) == nil && v.Resource != ""
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return &acme.Error{Type: acme.Malformed, Detail: detailNoContentType, Status: http.StatusUnsupportedMediaType}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != contentTypeJOSE {
		return &acme.Error{Type: acme.Malformed, Detail: detailBadContentType, Status: http.StatusUnsupportedMediaType}
	}
	return nil
}

// parseJWS parses a flattened JSON JWS with exactly one protected signature.
func parseJWS(body []byte) (*jose.JSONWebSignature, jose.Signature, error) {
	jws, err := jose.ParseSignedJSON(string(body), allowedAlgs)
	if err != nil {
		var alg string
		if a := algFromBody(body); a != "" && !isAllowedAlg(a) {
			alg = a
		}
		if alg != "" {
			return nil, jose.Signature{}, badAlgError(alg)
		}
		return nil, jose.Signature{}, acme.New(acme.Malformed, detailParseJWS)
	}
	switch {
	case len(jws.Signatures) == 0:
		return nil, jose.Signature{}, acme.New(acme.Malformed, detailNoSigs)
	case len(jws.Signatures) > 1:
		return nil, jose.Signature{}, acme.New(acme.Malformed, detailTooManySigs)
	}
	sig := jws.Signatures[0]
	if len(sig.Signature) == 0 {
		return nil, jose.Signature{}, acme.New(acme.Malformed, detailNoSigs)
	}
	if u := sig.Unprotected; u.KeyID != "" || u.JSONWebKey != nil || u.Algorithm != "" || u.Nonce != "" || len(u.ExtraHeaders) > 0 {
		return nil, jose.Signature{}, acme.New(acme.Malformed, detailUnprotectedHeader)
	}
	return jws, sig, nil
}

// algFromBody digs the "alg" out of a JWS that go-jose refused, so an
// unsupported algorithm gets badSignatureAlgorithm rather than malformed.
func algFromBody(body []byte) string {
	var outer struct {
		Protected string `json:"protected"`
	}
	if jsonUnmarshal(body, &outer) != nil {
		return ""
	}
	raw, err := b64Decode(outer.Protected)
	if err != nil {
		return ""
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if jsonUnmarshal(raw, &hdr) != nil {
		return ""
	}
	return hdr.Alg
}

func isAllowedAlg(alg string) bool {
	for _, a := range allowedAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// badAlgError is badSignatureAlgorithm; the problem lists the accepted
// algorithms, as RFC 8555 §6.2 asks (rendered by the handler).
func badAlgError(alg string) error {
	return acme.New(acme.BadSignatureAlgorithm, detailBadAlg, alg)
}

// resolveKey fills req.jwk (and req.acct for "kid") per the endpoint's mode.
func (s *Server) resolveKey(r *http.Request, req *signedRequest, hdr jose.Header, mode keyMode) error {
	hasJWK, hasKID := hdr.JSONWebKey != nil, hdr.KeyID != ""
	if hasJWK && hasKID {
		return acme.New(acme.Malformed, detailJWKAndKID)
	}
	switch {
	case mode == byJWK && !hasJWK:
		return acme.New(acme.Malformed, detailNoJWK)
	case mode == byKID && !hasKID:
		return acme.New(acme.Malformed, detailNoKID)
	case !hasJWK && !hasKID:
		return acme.New(acme.Malformed, detailNoJWK)
	}
	if hasJWK {
		if !hdr.JSONWebKey.Valid() || !hdr.JSONWebKey.IsPublic() {
			return acme.New(acme.Malformed, detailBadJWK)
		}
		blocked := func(h string) (bool, error) { return s.store.KeyBlocked(r.Context(), h) }
		if err := s.policy.CheckAccountKeyBlocked(hdr.JSONWebKey.Key, blocked); err != nil {
			return err
		}
		req.jwk = hdr.JSONWebKey
		return nil
	}
	acct, err := s.accountFromKID(r, hdr.KeyID)
	if err != nil {
		return err
	}
	jwk, err := s.accountKey(acct)
	if err != nil {
		return fmt.Errorf("account %d: stored key: %w", acct.ID, err)
	}
	req.jwk, req.acct, req.hasAcct = jwk, acct, true
	eventFrom(r).setAccount(acct.ID)
	return nil
}

func (s *Server) accountFromKID(r *http.Request, kid string) (store.Account, error) {
	prefix := s.linkerFor(r).url(s.paths.account)
	id, err := strconv.ParseInt(strings.TrimPrefix(kid, prefix), 10, 64)
	if !strings.HasPrefix(kid, prefix) || err != nil || id <= 0 {
		return store.Account{}, acme.New(acme.Malformed, detailBadKIDURL, kid)
	}
	acct, err := s.store.GetAccount(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, acme.New(acme.AccountDoesNotExist, detailAccountNotFound, kid)
	}
	if err != nil {
		return store.Account{}, err
	}
	if acct.Status != acme.StatusValid {
		return store.Account{}, acme.New(acme.Unauthorized, detailAccountNotValid, acct.Status)
	}
	return acct, nil
}

// checkAlgForKey rejects an algorithm that does not fit the key, as
// Boulder's checkAlgorithm does.
func checkAlgForKey(alg string, jwk *jose.JSONWebKey) error {
	var want string
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey:
		want = string(jose.RS256)
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			want = string(jose.ES256)
		case elliptic.P384():
			want = string(jose.ES384)
		case elliptic.P521():
			want = string(jose.ES512)
		}
	}
	if !isAllowedAlg(alg) {
		return badAlgError(alg)
	}
	if alg != want {
		return acme.New(acme.BadSignatureAlgorithm, detailAlgKeyMismatch, alg, want)
	}
	return nil
}

// verifyPostAsGet authenticates a kid-signed POST whose payload must be
// empty (RFC 8555 §6.3 POST-as-GET).
func (s *Server) verifyPostAsGet(r *http.Request) (signedRequest, error) {
	req, err := s.verifyPOST(r, byKID)
	if err != nil {
		return req, err
	}
	if len(req.payload) != 0 {
		return req, acme.New(acme.Malformed, detailPostAsGetNotEmpty)
	}
	return req, nil
}
