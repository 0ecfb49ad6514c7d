package ca

import (
	"crypto"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

const tosURL = "https://letsencrypt.org/documents/LE-SA-v1.8-July-06-2026.pdf"

func agreed(extra map[string]any) map[string]any {
	p := map[string]any{"termsOfServiceAgreed": true}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func TestNewAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.client(newKey(t))
	contact := []string{"mailto:admin@example.com"}
	r := c.postJWK(e.url(pathNewAccount), agreed(map[string]any{"contact": contact}))
	wantStatus(t, r, http.StatusCreated)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.url(pathAccount)) {
		t.Fatalf("Location = %q", loc)
	}
	if l := r.header.Values("Link"); !contains(l, link(tosURL, "terms-of-service")) || !contains(l, link(e.url(pathDirectory), "index")) {
		t.Errorf("Link = %q", l)
	}
	var a accountJSON
	r.decode(t, &a)
	if a.Status != acme.StatusValid || !a.CreatedAt.Equal(testStart) || strings.Join(a.Contact, ",") != contact[0] {
		t.Errorf("account = %+v", a)
	}
	k, err := parseJWK(a.Key)
	if err != nil || thumbprint(t, k.Key) != thumbprint(t, c.key.Public()) {
		t.Errorf("key = %s (%v)", a.Key, err)
	}

	for name, payload := range map[string]map[string]any{
		"same key again":                 agreed(nil),
		"onlyReturnExisting, known key":  {"onlyReturnExisting": true},
		"same key, different contacts":   agreed(map[string]any{"contact": []string{"mailto:other@example.com"}}),
		"same key, terms not agreed now": {},
	} {
		t.Run(name, func(t *testing.T) {
			r := c.postJWK(e.url(pathNewAccount), payload)
			wantStatus(t, r, http.StatusOK)
			if got := r.header.Get("Location"); got != loc {
				t.Errorf("Location = %q, want %q", got, loc)
			}
			var again accountJSON
			r.decode(t, &again)
			if strings.Join(again.Contact, ",") != contact[0] {
				t.Errorf("contacts changed: %v", again.Contact)
			}
		})
	}
}

func TestNewAccountRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("mailto:a%d@example.com", i)
	}
	tests := []struct {
		name    string
		payload any
		typ     string
		status  int
		detail  string
	}{
		{"onlyReturnExisting, unknown key", map[string]any{"onlyReturnExisting": true}, "accountDoesNotExist", 400,
			"No account exists with the provided key"},
		{"terms not agreed", map[string]any{"contact": []string{"mailto:a@example.com"}}, "malformed", 400,
			"must agree to terms of service"},
		{"payload not JSON", "nope", "malformed", 400, "Unable to JSON parse account request"},
		{"contact not mailto", agreed(map[string]any{"contact": []string{"tel:+15555550100"}}), "unsupportedContact", 400,
			`contact method "tel:+15555550100" is not supported`},
		{"contact without domain", agreed(map[string]any{"contact": []string{"mailto:nobody"}}), "invalidContact", 400,
			"unable to parse email address"},
		{"contact with two addresses", agreed(map[string]any{"contact": []string{"mailto:a@example.com,b@example.com"}}),
			"invalidContact", 400, "unable to parse email address"},
		{"too many contacts", agreed(map[string]any{"contact": tooMany}), "malformed", 400,
			"too many contacts provided: 11 > 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(newKey(t))
			wantProblem(t, c.postJWK(e.url(pathNewAccount), tc.payload), tc.typ, tc.status, tc.detail)
			// Nothing was created: the key is still unknown.
			wantProblem(t, c.postJWK(e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true}),
				"accountDoesNotExist", 400, "No account exists with the provided key")
		})
	}
}

func TestAccountUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct, other := e.newAccount(), e.newAccount()
	tests := []struct {
		name    string
		url     string
		payload any
		typ     string // "" means success
		status  int
		detail  string
		contact string // contacts after success, joined
	}{
		{name: "POST-as-GET", status: 200},
		{name: "empty object", payload: struct{}{}, status: 200},
		{name: "new contacts", payload: map[string]any{"contact": []string{"mailto:x@example.com", "mailto:y@example.com"}},
			status: 200, contact: "mailto:x@example.com,mailto:y@example.com"},
		{name: "bad contact", payload: map[string]any{"contact": []string{"https://example.com"}}, typ: "unsupportedContact",
			status: 400, detail: `contact method "https://example.com" is not supported`},
		{name: "bad status", payload: map[string]any{"status": "revoked"}, typ: "malformed", status: 400,
			detail: "Invalid value provided for status field"},
		{name: "not JSON", payload: "[", typ: "malformed", status: 400, detail: "Unable to JSON parse account request"},
		{name: "another account's URL", url: other.kid, typ: "unauthorized", status: 403,
			detail: "Account ID in URL does not match account ID in request"},
	}
	contact := ""
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := acct.kid
			if tc.url != "" {
				url = tc.url
			}
			r := acct.post(url, tc.payload)
			if tc.typ != "" {
				wantProblem(t, r, tc.typ, tc.status, tc.detail)
				return
			}
			wantStatus(t, r, tc.status)
			if got := r.header.Get("Location"); got != acct.kid {
				t.Errorf("Location = %q", got)
			}
			if tc.contact != "" {
				contact = tc.contact
			}
			var a accountJSON
			r.decode(t, &a)
			if got := strings.Join(a.Contact, ","); got != contact || a.Status != acme.StatusValid {
				t.Errorf("account = %+v, want contacts %q", a, contact)
			}
		})
	}
}

func TestAccountDeactivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	_, orderURL := acct.newOrder("deact.test")
	r := acct.post(acct.kid, map[string]any{"status": "deactivated"})
	wantStatus(t, r, http.StatusOK)
	var a accountJSON
	r.decode(t, &a)
	if a.Status != acme.StatusDeactivated {
		t.Fatalf("status = %s", a.Status)
	}
	const notValid = `Unable to validate JWS :: Account is not valid, has status "deactivated"`
	tests := []struct {
		name   string
		send   func() *response
		typ    string
		detail string
	}{
		{"POST-as-GET account", func() *response { return acct.post(acct.kid, nil) }, "unauthorized", notValid},
		{"reactivate", func() *response { return acct.post(acct.kid, map[string]any{"status": "valid"}) }, "unauthorized", notValid},
		{"new order", func() *response { return acct.newOrderRaw(map[string]any{"identifiers": dnsIDs("x.test")}) },
			"unauthorized", notValid},
		{"POST-as-GET order", func() *response { return acct.post(orderURL, nil) }, "unauthorized", notValid},
		{"new account with the same key", func() *response { return acct.postJWK(e.url(pathNewAccount), agreed(nil)) },
			"unauthorized", "An account with the provided public key exists but is deactivated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.send(), tc.typ, 403, tc.detail)
		})
	}
}

// keyChange posts a key rollover to newKey; edit may change the inner
// header and payload before signing.
func (c *client) keyChange(newKey crypto.Signer, edit func(hdr, payload map[string]any)) *response {
	c.e.t.Helper()
	u := c.e.url(pathKeyChange)
	hdr := map[string]any{"alg": algFor(newKey), "jwk": jwkOf(c.e.t, newKey.Public()), "url": u}
	payload := map[string]any{"account": c.kid, "oldKey": jwkOf(c.e.t, c.key.Public())}
	if edit != nil {
		edit(hdr, payload)
	}
	return c.post(u, signJWS(c.e.t, newKey, hdr, encodePayload(c.e.t, payload)))
}

func TestKeyChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	oldKey, next := acct.key, newKey(t)
	r := acct.keyChange(next, nil)
	wantStatus(t, r, http.StatusOK)
	var a accountJSON
	r.decode(t, &a)
	if k, err := parseJWK(a.Key); err != nil || thumbprint(t, k.Key) != thumbprint(t, next.Public()) {
		t.Errorf("key after rollover = %s", a.Key)
	}
	wantProblem(t, acct.post(acct.kid, nil), "malformed", 400, "JWS verification error")
	acct.key = next
	wantStatus(t, acct.post(acct.kid, nil), http.StatusOK)
	r = acct.postJWK(e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true})
	if wantStatus(t, r, http.StatusOK); r.header.Get("Location") != acct.kid {
		t.Errorf("new key finds %q, want %q", r.header.Get("Location"), acct.kid)
	}
	wantProblem(t, e.client(oldKey).postJWK(e.url(pathNewAccount), map[string]any{"onlyReturnExisting": true}),
		"accountDoesNotExist", 400, "No account exists with the provided key")
}

func TestKeyChangeConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct, other := e.newAccount(), e.newAccount()
	r := acct.keyChange(other.key, nil)
	wantProblem(t, r, "conflict", 409, "Unable to change account key :: New key is already in use for a different account")
	if got := r.header.Get("Location"); got != other.kid {
		t.Errorf("Location = %q, want the other account %q", got, other.kid)
	}
	wantStatus(t, acct.post(acct.kid, nil), http.StatusOK) // the old key still works
}

func TestKeyChangeRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	stranger := newKey(t)
	tests := []struct {
		name   string
		newKey crypto.Signer
		edit   func(hdr, payload map[string]any)
		raw    string // outer payload instead of an inner JWS
		typ    string
		detail string
	}{
		{name: "inner not a JWS", raw: "{}", typ: "malformed", detail: "Unable to validate JWS :: Inner JWS could not be parsed"},
		{name: "inner with kid", edit: func(h, _ map[string]any) { delete(h, "jwk"); h["kid"] = acct.kid },
			typ: "malformed", detail: "Unable to validate JWS :: Inner JWS must embed a JWK and no kid"},
		{name: "inner url differs", edit: func(h, _ map[string]any) { h["url"] = e.url(pathNewAccount) },
			typ: "malformed", detail: "Inner JWS URL doesn't match outer JWS URL"},
		{name: "inner alg does not fit", edit: func(h, _ map[string]any) { h["alg"] = "ES384" }, typ: "badSignatureAlgorithm",
			detail: `JWS signature header algorithm "ES384" does not match expected algorithm "ES256" for JWK`},
		{name: "inner signed by another key", edit: func(h, _ map[string]any) { h["jwk"] = jwkOf(t, stranger.Public()) },
			typ: "malformed", detail: "Unable to validate JWS :: Inner JWS signature is invalid"},
		{name: "wrong account", edit: func(_, p map[string]any) { p["account"] = e.url(pathAccount) + "42" }, typ: "malformed",
			detail: fmt.Sprintf("Inner key rollover request specified Account %q, but outer JWS has Key ID %q", e.url(pathAccount)+"42", acct.kid)},
		{name: "wrong old key", edit: func(_, p map[string]any) { p["oldKey"] = jwkOf(t, stranger.Public()) }, typ: "malformed",
			detail: "Inner JWS does not contain old key field matching current account key"},
		{name: "same key", newKey: acct.key, typ: "malformed",
			detail: "New key specified by rollover request is the same as the old key"},
		{name: "new key refused by policy", newKey: genKey(t, elliptic.P521()), typ: "badPublicKey",
			detail: "invalid request signing key: ECDSA curve P-521 not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *response
			switch {
			case tc.raw != "":
				r = acct.post(e.url(pathKeyChange), tc.raw)
			case tc.newKey != nil:
				r = acct.keyChange(tc.newKey, tc.edit)
			default:
				r = acct.keyChange(newKey(t), tc.edit)
			}
			wantProblem(t, r, tc.typ, 400, tc.detail)
			wantStatus(t, acct.post(acct.kid, nil), http.StatusOK) // key unchanged
		})
	}
}

// eab builds an external account binding for pub under kid.
func (e *env) eab(kid string, secret []byte, pub crypto.PublicKey, edit func(hdr map[string]any)) json.RawMessage {
	e.t.Helper()
	hdr := map[string]any{"alg": "HS256", "kid": kid, "url": e.url(pathNewAccount)}
	if edit != nil {
		edit(hdr)
	}
	return signJWS(e.t, secret, hdr, jwkOf(e.t, pub))
}

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	secret := []byte("a very secret HMAC key of 32 B!!")
	e := newEnv(t, envConfig{cfg: func(c *Config) {
		c.ExternalAccountRequired = true
		c.EABKeys = map[string]string{"kid-1": b64Encode(secret)}
	}})
	var d directoryJSON
	e.getJSON(e.url(pathDirectory), &d)
	if !d.Meta.ExternalAccountRequired {
		t.Error("directory meta.externalAccountRequired is not true")
	}
	tests := []struct {
		name   string
		eab    func(c *client) any // nil: no binding
		typ    string              // "" means 201
		status int
		detail string
	}{
		{name: "missing", typ: "externalAccountRequired", status: 403, detail: "External account binding required"},
		{name: "unknown kid", eab: func(c *client) any { return e.eab("nope", secret, c.key.Public(), nil) },
			typ: "unauthorized", status: 403, detail: `External account binding key ID "nope" is unknown`},
		{name: "bad MAC", eab: func(c *client) any { return e.eab("kid-1", []byte("wrong secret"), c.key.Public(), nil) },
			typ: "unauthorized", status: 403, detail: "External account binding JWS signature is invalid"},
		{name: "binds another key", eab: func(*client) any { return e.eab("kid-1", secret, newKey(t).Public(), nil) },
			typ: "malformed", status: 400, detail: "External account binding JWS payload is not the account key"},
		{name: "wrong url", eab: func(c *client) any {
			return e.eab("kid-1", secret, c.key.Public(), func(h map[string]any) { h["url"] = e.url(pathNewOrder) })
		}, typ: "malformed", status: 400, detail: "External account binding JWS is malformed: url must be the newAccount URL"},
		{name: "with a nonce", eab: func(c *client) any {
			return e.eab("kid-1", secret, c.key.Public(), func(h map[string]any) { h["nonce"] = e.nonce() })
		}, typ: "malformed", status: 400, detail: "External account binding JWS is malformed: nonce must be absent"},
		{name: "not a JWS", eab: func(*client) any { return "eab" }, typ: "malformed", status: 400,
			detail: "External account binding JWS is malformed: not a flattened JWS with one HMAC signature"},
		{name: "good", eab: func(c *client) any { return e.eab("kid-1", secret, c.key.Public(), nil) }, status: 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(newKey(t))
			payload := agreed(nil)
			if tc.eab != nil {
				payload["externalAccountBinding"] = tc.eab(c)
			}
			r := c.postJWK(e.url(pathNewAccount), payload)
			if tc.typ != "" {
				wantProblem(t, r, tc.typ, tc.status, tc.detail)
				return
			}
			wantStatus(t, r, tc.status)
			c.kid = r.header.Get("Location")
			stored, err := e.store.GetAccount(t.Context(), c.id())
			if err != nil || stored.EABKeyID != "kid-1" {
				t.Errorf("stored account %+v, %v: want EAB key ID kid-1", stored, err)
			}
		})
	}
}

// TestAccountCreatedAtFollowsClock: createdAt comes from the injected clock.
func TestAccountCreatedAtFollowsClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	e.clk.Step(36 * time.Hour)
	r := e.client(newKey(t)).postJWK(e.url(pathNewAccount), agreed(nil))
	var a accountJSON
	r.decode(t, &a)
	if want := testStart.Add(36 * time.Hour); !a.CreatedAt.Equal(want) {
		t.Errorf("createdAt = %s, want %s", a.CreatedAt, want)
	}
}

// TestNoTermsOfService: with no terms configured, none need agreeing to.
func TestNoTermsOfService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.TermsOfService = "" }})
	var d directoryJSON
	e.getJSON(e.url(pathDirectory), &d)
	if d.Meta.TermsOfService != "" {
		t.Errorf("termsOfService = %q", d.Meta.TermsOfService)
	}
	r := e.client(newKey(t)).postJWK(e.url(pathNewAccount), map[string]any{})
	wantStatus(t, r, http.StatusCreated)
	for _, l := range r.header.Values("Link") {
		if strings.Contains(l, "terms-of-service") {
			t.Errorf("Link %q without terms configured", l)
		}
	}
}
