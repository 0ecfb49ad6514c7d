package ca

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// editBody rewrites the serialized JWS as a JSON object.
func editBody(t testing.TB, f func(m map[string]any)) mod {
	return rewriteBody(func(b []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
}

// TestJWSRejections sends every kind of bad JWS and checks Boulder's problem,
// and that the error response still carries a nonce and the index link.
func TestJWSRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	_, orderURL := acct.newOrder("jws.test")
	newOrder, newAcct := e.url(pathNewOrder), e.url(pathNewAccount)

	spent := e.nonce()
	wantStatus(t, acct.post(acct.kid, nil, withHeader("nonce", spent)), http.StatusOK)
	other, err := newNonces()
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, p521 := genKey(t, elliptic.P384()), genKey(t, elliptic.P521())
	unknownKID := e.url(pathAccount) + "999999"
	const badAlg = `JWS signature header contains unsupported algorithm %q, expected one of RS256, ES256, ES384 or ES512`

	tests := []struct {
		name    string
		signer  *client // default acct
		url     string  // default new-order
		jwk     bool    // embed the key instead of the kid
		payload any
		mods    []mod
		typ     string
		status  int
		detail  string
	}{
		{name: "no content type", mods: []mod{withContentType("")}, typ: "malformed", status: 415,
			detail: `No Content-Type header on POST. Content-Type must be "application/jose+json"`},
		{name: "wrong content type", mods: []mod{withContentType("application/json")}, typ: "malformed", status: 415,
			detail: `Invalid Content-Type header on POST. Content-Type must be "application/jose+json"`},
		{name: "content type with parameters", mods: []mod{withContentType("application/jose+json; charset=utf-8")},
			status: 201},
		{name: "oversized body", mods: []mod{rewriteBody(func(b []byte) []byte {
			return append(b, []byte(strings.Repeat(" ", maxBodyBytes))...)
		})}, typ: "malformed", status: 413, detail: "request body too large"},
		{name: "not JSON", mods: []mod{rewriteBody(func([]byte) []byte { return []byte("hello") })},
			typ: "malformed", status: 400, detail: "Parse error reading JWS"},
		{name: "compact serialization", mods: []mod{rewriteBody(func(b []byte) []byte {
			var m map[string]string
			_ = json.Unmarshal(b, &m)
			return []byte(m["protected"] + "." + m["payload"] + "." + m["signature"])
		})}, typ: "malformed", status: 400, detail: "Parse error reading JWS"},
		{name: "unprotected header", mods: []mod{editBody(t, func(m map[string]any) {
			m["header"] = map[string]any{"foo": "bar"}
		})}, typ: "malformed", status: 400,
			detail: `JWS "header" field not allowed. All headers must be in "protected" field`},
		{name: "empty signature", mods: []mod{editBody(t, func(m map[string]any) { m["signature"] = "" })},
			typ: "malformed", status: 400, detail: "POST JWS not signed"},
		{name: "unsupported alg HS256", mods: []mod{signedBy([]byte("0123456789abcdef0123456789abcdef"))},
			typ: "badSignatureAlgorithm", status: 400, detail: fmt.Sprintf(badAlg, "HS256")},
		{name: "unsupported alg RS512", mods: []mod{signedBy(rsaKey(t)), withHeader("alg", "RS512")},
			typ: "badSignatureAlgorithm", status: 400, detail: fmt.Sprintf(badAlg, "RS512")},
		{name: "unsupported alg EdDSA", signer: e.client(edKey), url: newAcct, jwk: true,
			typ: "badSignatureAlgorithm", status: 400, detail: fmt.Sprintf(badAlg, "EdDSA")},
		{name: "alg none", mods: []mod{withHeader("alg", "none")},
			typ: "badSignatureAlgorithm", status: 400, detail: fmt.Sprintf(badAlg, "none")},
		{name: "alg does not fit embedded key", signer: e.client(p384), url: newAcct, jwk: true,
			mods: []mod{withHeader("alg", "ES256")}, typ: "badSignatureAlgorithm", status: 400,
			detail: `JWS signature header algorithm "ES256" does not match expected algorithm "ES384" for JWK`},
		{name: "alg does not fit account key", mods: []mod{signedBy(rsaKey(t))}, typ: "badSignatureAlgorithm", status: 400,
			detail: `JWS signature header algorithm "RS256" does not match expected algorithm "ES256" for JWK`},
		{name: "P-521 account key", signer: e.client(p521), url: newAcct, jwk: true, typ: "badPublicKey", status: 400,
			detail: "invalid request signing key: ECDSA curve P-521 not allowed"},
		{name: "no nonce", mods: []mod{withoutHeader("nonce")}, typ: "badNonce", status: 400,
			detail: "JWS has an invalid anti-replay nonce"},
		{name: "replayed nonce", mods: []mod{withHeader("nonce", spent)}, typ: "badNonce", status: 400,
			detail: "JWS has an invalid anti-replay nonce"},
		{name: "nonce of another server instance", mods: []mod{withHeader("nonce", other.issue())}, typ: "badNonce",
			status: 400, detail: "JWS has an invalid anti-replay nonce"},
		{name: "nonce from nowhere", mods: []mod{withHeader("nonce", "not-a-nonce")}, typ: "badNonce", status: 400,
			detail: "JWS has an invalid anti-replay nonce"},
		{name: "forged nonce with our prefix", mods: []mod{withHeader("nonce", e.srv.nonces.prefix+b64Encode(make([]byte, 32)))},
			typ: "badNonce", status: 400, detail: "JWS has an invalid anti-replay nonce"},
		{name: "no url", mods: []mod{withoutHeader("url")}, typ: "malformed", status: 400,
			detail: "JWS header parameter 'url' required"},
		{name: "wrong url", mods: []mod{withHeader("url", newAcct)}, typ: "malformed", status: 400,
			detail: fmt.Sprintf(`JWS header parameter 'url' incorrect. Expected %q got %q`, newOrder, newAcct)},
		{name: "both jwk and kid", mods: []mod{withHeader("jwk", jwkOf(t, acct.key.Public()))}, typ: "malformed", status: 400,
			detail: "jwk and kid header fields are mutually exclusive"},
		{name: "jwk where kid is required", jwk: true, typ: "malformed", status: 400, detail: "No Key ID in JWS header"},
		{name: "kid where jwk is required", url: newAcct, typ: "malformed", status: 400,
			detail: "No embedded JWK in JWS header"},
		{name: "kid of unknown account", mods: []mod{withHeader("kid", unknownKID)}, typ: "accountDoesNotExist", status: 400,
			detail: fmt.Sprintf(`Unable to validate JWS :: Account %q not found`, unknownKID)},
		{name: "kid is not an account URL", mods: []mod{withHeader("kid", "https://example.com/acct/1")},
			typ: "malformed", status: 400,
			detail: `Unable to validate JWS :: KeyID header contained an invalid account URL: "https://example.com/acct/1"`},
		{name: "bad signature", mods: []mod{editBody(t, func(m map[string]any) {
			s := []byte(m["signature"].(string))
			s[3] ^= 1
			m["signature"] = string(s)
		})}, typ: "malformed", status: 400, detail: "JWS verification error"},
		{name: "signed by another key", mods: []mod{signedBy(newKey(t))}, typ: "malformed", status: 400,
			detail: "JWS verification error"},
		{name: "POST-as-GET with a payload", url: orderURL, payload: struct{}{}, typ: "malformed", status: 400,
			detail: "POST-as-GET requests must have an empty payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer, url, payload := acct, tc.url, tc.payload
			if tc.signer != nil {
				signer = tc.signer
			}
			if url == "" {
				url = newOrder
				if payload == nil {
					payload = map[string]any{"identifiers": dnsIDs("jws.test")}
				}
			}
			if url == newAcct && payload == nil {
				payload = map[string]any{"termsOfServiceAgreed": true}
			}
			var r *response
			if tc.jwk {
				r = signer.postJWK(url, payload, tc.mods...)
			} else {
				r = signer.send(url, payload, append([]mod{withHeader("kid", acct.kid)}, tc.mods...)...)
			}
			if tc.typ == "" {
				wantStatus(t, r, tc.status)
			} else {
				wantProblem(t, r, tc.typ, tc.status, tc.detail)
			}
			if r.header.Get("Replay-Nonce") == "" {
				t.Error("no Replay-Nonce on the response to a POST")
			}
			if got, want := r.header.Values("Link"), link(e.url(pathDirectory), "index"); !contains(got, want) {
				t.Errorf("Link = %q, want %q among them", got, want)
			}
		})
	}
}

// TestBadSignatureAlgorithmListsAlgorithms: RFC 8555 §6.2 and reference §8
// want the accepted algorithms in the problem.
func TestBadSignatureAlgorithmListsAlgorithms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	r := e.client(rsaKey(t)).postJWK(e.url(pathNewAccount), map[string]any{"termsOfServiceAgreed": true},
		withHeader("alg", "RS512"))
	var p struct {
		Algorithms []string `json:"algorithms"`
	}
	r.decode(t, &p)
	if got := strings.Join(p.Algorithms, ","); got != "RS256,ES256,ES384,ES512" {
		t.Errorf("algorithms = %q", got)
	}
}

// TestNonceFromErrorIsUsable: the nonce on an error response is a good one,
// and each nonce is good exactly once.
func TestNonceFromErrorIsUsable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	r := acct.post(e.url(pathNewOrder), map[string]any{})
	wantProblem(t, r, "malformed", 400, "NewOrder request did not specify any identifiers")
	n := r.header.Get("Replay-Nonce")
	if len(n) != 51 {
		t.Errorf("nonce %q has %d characters, want 51", n, len(n))
	}
	wantStatus(t, acct.post(acct.kid, nil, withHeader("nonce", n)), http.StatusOK)
	wantProblem(t, acct.post(acct.kid, nil, withHeader("nonce", n)), "badNonce", 400, "JWS has an invalid anti-replay nonce")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
