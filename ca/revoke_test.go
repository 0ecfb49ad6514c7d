package ca

import (
	"crypto"
	"net/http"
	"testing"
	"time"

	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/store"
)

func revokePayload(der []byte, reason int) map[string]any {
	p := map[string]any{"certificate": b64Encode(der)}
	if reason >= 0 {
		p["reason"] = reason
	}
	return p
}

// revoke asks to revoke der with the account (kid); reason < 0 omits it.
func (c *client) revoke(der []byte, reason int) *response {
	c.e.t.Helper()
	return c.post(c.e.url(pathRevoke), revokePayload(der, reason))
}

// revokeWithKey asks to revoke der authenticated by key (embedded jwk).
func (e *env) revokeWithKey(key crypto.Signer, der []byte, reason int) *response {
	e.t.Helper()
	return e.client(key).postJWK(e.url(pathRevoke), revokePayload(der, reason))
}

// storedCert reads a certificate's state straight from the store.
func (e *env) storedCert(serial string) store.Certificate {
	e.t.Helper()
	c, err := e.store.GetCertificate(e.t.Context(), serial)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func wantRevoked(t testing.TB, r *response, e *env, serial string, reason int) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	if len(r.body) != 0 || r.header.Get("Replay-Nonce") == "" {
		t.Errorf("revocation answered body %q, nonce %q; want an empty body and a nonce", r.body, r.header.Get("Replay-Nonce"))
	}
	c := e.storedCert(serial)
	if !c.Revoked || c.Reason != reason || !c.RevokedAt.Equal(e.clk.Now()) {
		t.Errorf("stored revocation %v reason %d at %s, want reason %d now", c.Revoked, c.Reason, c.RevokedAt, reason)
	}
}

func TestRevocationReasons(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	tests := []struct {
		reason int // -1: none given
		stored int
		ok     bool
	}{
		{-1, 0, true}, {0, 0, true}, {1, 1, true}, {4, 4, true}, {5, 5, true},
		{2, 0, false}, {3, 0, false}, {6, 0, false}, {8, 0, false}, {9, 0, false}, {10, 0, false},
	}
	for _, tc := range tests {
		t.Run(itoa(int64(tc.reason)), func(t *testing.T) {
			got := acct.issue("reason.test")
			r := acct.revoke(got.der, tc.reason)
			if !tc.ok {
				wantProblem(t, r, "badRevocationReason", 400, "Unable to revoke :: disallowed revocation reason: "+itoa(int64(tc.reason)))
				if e.storedCert(got.serial).Revoked {
					t.Error("revoked anyway")
				}
				return
			}
			wantRevoked(t, r, e, got.serial, tc.stored)
			if blocked, _ := e.store.KeyBlocked(t.Context(), e.storedCert(got.serial).KeyHash); blocked {
				t.Error("revocation by the account blocked the key")
			}
		})
	}
}

func TestRevocationRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct, stranger := e.newAccount(), e.newAccount()
	got := acct.issue("rej.test")
	foreign := loadPKI(t, pkiDirs.other, e.clk)
	leaf, err := foreign.Issue(pki.LeafRequest{PublicKey: newKey(t).Public(), DNSNames: []string{"rej.test"},
		Profile: DefaultProfiles()["classic"].certProfile("classic")})
	if err != nil {
		t.Fatal(err)
	}
	unstored, err := e.pki.Issue(pki.LeafRequest{PublicKey: newKey(t).Public(), DNSNames: []string{"rej.test"},
		Profile: DefaultProfiles()["classic"].certProfile("classic")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		send   func() *response
		typ    string
		status int
		detail string
	}{
		{"payload not JSON", func() *response { return acct.post(e.url(pathRevoke), "{") }, "malformed", 400,
			"Unable to JSON parse revoke request"},
		{"certificate not base64url", func() *response {
			return acct.post(e.url(pathRevoke), map[string]any{"certificate": "!!"})
		}, "malformed", 400, "Unable to decode certificate"},
		{"certificate not DER", func() *response { return acct.revoke([]byte{1, 2, 3}, -1) }, "malformed", 400,
			"Unable to decode certificate"},
		{"unknown issuer", func() *response { return acct.revoke(leaf.DER, -1) }, "malformed", 404,
			"Unable to revoke :: Certificate from unrecognized issuer"},
		{"certificate never issued", func() *response { return acct.revoke(unstored.DER, -1) }, "malformed", 404,
			"No such certificate"},
		{"account without authorizations", func() *response { return stranger.revoke(got.der, -1) }, "unauthorized", 403,
			`Unable to revoke :: requester does not control all identifiers in cert with serial "` + got.serial + `"`},
		{"jwk of another key", func() *response { return e.revokeWithKey(newKey(t), got.der, -1) }, "unauthorized", 403,
			"JWK embedded in revocation request must be the same public key as the cert to be revoked"},
		{"jwk of the account key", func() *response { return e.revokeWithKey(acct.key, got.der, -1) }, "unauthorized", 403,
			"JWK embedded in revocation request must be the same public key as the cert to be revoked"},
		{"neither jwk nor kid", func() *response { return acct.send(e.url(pathRevoke), revokePayload(got.der, -1)) },
			"malformed", 400, "No embedded JWK in JWS header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.send(), tc.typ, tc.status, tc.detail)
		})
	}
	if e.storedCert(got.serial).Revoked {
		t.Error("a refused request revoked the certificate")
	}
}

// TestRevocationLifecycle: owner, then the certificate key (upgrading to
// keyCompromise and blocking the key), then nothing more.
func TestRevocationLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	got := acct.issue("life.test")
	e.clk.Step(time.Hour)
	wantRevoked(t, acct.revoke(got.der, 4), e, got.serial, 4)
	wantProblem(t, acct.revoke(got.der, 0), "alreadyRevoked", 400,
		"Unable to revoke :: no certificate with serial "+got.serial+" and status other than revoked")

	e.clk.Step(time.Hour)
	wantRevoked(t, e.revokeWithKey(got.key, got.der, 0), e, got.serial, 1)
	// The key is now blocked, so it cannot even sign a request (Boulder's
	// WFE applies the key policy, blocked keys included, to embedded JWKs).
	wantProblem(t, e.revokeWithKey(got.key, got.der, -1), "badPublicKey", 400,
		"invalid request signing key: public key is forbidden")
	wantProblem(t, acct.revoke(got.der, 1), "alreadyRevoked", 400,
		`Unable to revoke :: unable to re-revoke serial "`+got.serial+`" which is already revoked for keyCompromise`)

	hash, err := policy.KeyHash(got.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if blocked, err := e.store.KeyBlocked(t.Context(), hash); !blocked || err != nil {
		t.Fatalf("key blocked = %v, %v after a keyCompromise revocation with the key", blocked, err)
	}
	o, _ := acct.newOrder("life.test")
	wantProblem(t, acct.finalize(o, makeCSR(t, got.key, "life.test")), "badCSR", 400,
		"Error finalizing order :: invalid public key in CSR: public key is forbidden")
	t.Run("blocked key as account key", func(t *testing.T) {
		wantProblem(t, e.client(got.key).postJWK(e.url(pathNewAccount), agreed(nil)), "badPublicKey", 400,
			"invalid request signing key: public key is forbidden")
	})
}

func TestRevocationByCertificateKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	got := e.newAccount().issue("bykey.test")
	wantRevoked(t, e.revokeWithKey(got.key, got.der, 4), e, got.serial, 1) // always keyCompromise
	if blocked, _ := e.store.KeyBlocked(t.Context(), e.storedCert(got.serial).KeyHash); !blocked {
		t.Error("the key was not blocked")
	}
}

// TestRevocationByAuthorizedAccount: an account holding valid authorizations
// for every name may revoke; the reason becomes cessationOfOperation.
func TestRevocationByAuthorizedAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	owner, other := e.newAccount(), e.newAccount()
	got := owner.issue("shared.test", "b.shared.test")
	partial, _ := other.newOrder("shared.test")
	other.authorize(partial)
	wantProblem(t, other.revoke(got.der, 1), "unauthorized", 403,
		`Unable to revoke :: requester does not control all identifiers in cert with serial "`+got.serial+`"`)
	// Authorizations under another profile count too.
	o, _ := other.newOrderWith(map[string]any{"identifiers": dnsIDs("b.shared.test"), "profile": "tlsserver"})
	other.authorize(o)
	wantRevoked(t, other.revoke(got.der, 1), e, got.serial, 5)
	if blocked, _ := e.store.KeyBlocked(t.Context(), e.storedCert(got.serial).KeyHash); blocked {
		t.Error("the key was blocked")
	}
}

func TestRevocationOfExpiredCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	got := acct.issue("old.test")
	e.clk.SetTime(got.cert.NotAfter.Add(time.Second))
	for name, send := range map[string]func() *response{
		"by account": func() *response { return acct.revoke(got.der, -1) },
		"by key":     func() *response { return e.revokeWithKey(got.key, got.der, -1) },
	} {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, send(), "unauthorized", 403, "Unable to revoke :: Certificate is expired")
		})
	}
}
