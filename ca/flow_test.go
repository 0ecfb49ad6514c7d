package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

// ACME flow helpers: each step of an issuance, failing the test on any
// unexpected answer, so that tests can stop at the step they examine.

func dnsIDs(names ...string) []acme.Identifier {
	ids := make([]acme.Identifier, len(names))
	for i, n := range names {
		ids[i] = acme.Identifier{Type: acme.TypeDNS, Value: n}
	}
	return ids
}

// newOrderRaw posts a new-order request body as is.
func (c *client) newOrderRaw(body any) *response {
	c.e.t.Helper()
	return c.post(c.e.url(pathNewOrder), body)
}

// newOrder creates an order for DNS names and returns it with its URL.
func (c *client) newOrder(names ...string) (orderJSON, string) {
	c.e.t.Helper()
	return c.newOrderWith(map[string]any{"identifiers": dnsIDs(names...)})
}

func (c *client) newOrderWith(body map[string]any) (orderJSON, string) {
	c.e.t.Helper()
	r := c.newOrderRaw(body)
	wantStatus(c.e.t, r, http.StatusCreated)
	var o orderJSON
	r.decode(c.e.t, &o)
	return o, r.header.Get("Location")
}

// getOrder fetches an order with an unauthenticated GET.
func (e *env) getOrder(url string) orderJSON {
	e.t.Helper()
	var o orderJSON
	e.getJSON(url, &o)
	return o
}

func (e *env) getAuthz(url string) authzJSON {
	e.t.Helper()
	var a authzJSON
	e.getJSON(url, &a)
	return a
}

// authorize answers the first challenge of every pending authorization of
// o and waits until none is pending.
func (c *client) authorize(o orderJSON) {
	c.e.t.Helper()
	for _, u := range o.Authorizations {
		a := c.e.getAuthz(u)
		if a.Status != acme.StatusPending {
			continue
		}
		r := c.post(a.Challenges[0].URL, struct{}{})
		wantStatus(c.e.t, r, http.StatusOK)
		c.e.waitAuthz(u)
	}
}

// waitAuthz waits until the authorization at u is no longer pending.
func (e *env) waitAuthz(u string) authzJSON {
	e.t.Helper()
	var a authzJSON
	waitFor(e.t, "authorization "+u, func() bool {
		a = e.getAuthz(u)
		return a.Status != acme.StatusPending
	})
	return a
}

// waitOrder waits until the order at u is no longer processing.
func (e *env) waitOrder(u string) orderJSON {
	e.t.Helper()
	var o orderJSON
	waitFor(e.t, "order "+u, func() bool {
		o = e.getOrder(u)
		return o.Status != acme.StatusProcessing
	})
	return o
}

// makeCSR makes a DER CSR for DNS names signed by key.
func makeCSR(t testing.TB, key crypto.Signer, names ...string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func csrPayload(der []byte) map[string]string { return map[string]string{"csr": b64Encode(der)} }

// finalize posts a CSR to the order's finalize URL.
func (c *client) finalize(o orderJSON, csr []byte) *response {
	c.e.t.Helper()
	return c.post(o.Finalize, csrPayload(csr))
}

// issued is a certificate obtained through the full ACME flow.
type issued struct {
	orderURL string
	order    orderJSON
	key      crypto.Signer // the certificate key
	der      []byte
	cert     *x509.Certificate
	serial   string
}

// issue runs new-order, authorization, finalize and download for names
// with a fresh P-256 certificate key.
func (c *client) issue(names ...string) issued {
	c.e.t.Helper()
	return c.issueWithKey(newKey(c.e.t), names...)
}

func (c *client) issueWithKey(key crypto.Signer, names ...string) issued {
	c.e.t.Helper()
	return c.issueOrder(key, map[string]any{"identifiers": dnsIDs(names...)})
}

// issueOrder is issue for any new-order request (profile, replaces, …).
func (c *client) issueOrder(key crypto.Signer, body map[string]any) issued {
	c.e.t.Helper()
	o, u := c.newOrderWith(body)
	c.authorize(o)
	r := c.finalize(o, makeCSR(c.e.t, key, identValues(o.Identifiers)...))
	wantStatus(c.e.t, r, http.StatusOK)
	o = c.e.waitOrder(u)
	if o.Status != acme.StatusValid {
		c.e.t.Fatalf("order %s is %s, want valid (error %+v)", u, o.Status, o.Error)
	}
	chain := c.e.fetchChain(o.Certificate)
	return issued{orderURL: u, order: o, key: key, der: chain[0].Raw, cert: chain[0], serial: certSerial(chain[0])}
}

// fetchChain downloads a certificate URL and parses every PEM block.
func (e *env) fetchChain(url string) []*x509.Certificate {
	e.t.Helper()
	r := e.get(url)
	wantStatus(e.t, r, http.StatusOK)
	return parsePEMChain(e.t, r.body)
}

func parsePEMChain(t testing.TB, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in PEM body")
	}
	return out
}
