package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// publicGet fetches path from the server's public (plain HTTP) handler.
func publicGet(t *testing.T, e *env, method, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	e.srv.PublicHandler().ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// fetchCRL follows the certificate's CRL distribution point.
func fetchCRL(t *testing.T, e *env, leaf *x509.Certificate) *x509.RevocationList {
	t.Helper()
	if len(leaf.CRLDistributionPoints) != 1 {
		t.Fatalf("CRL distribution points %v, want one", leaf.CRLDistributionPoints)
	}
	res, body := publicGet(t, e, http.MethodGet, strings.TrimPrefix(leaf.CRLDistributionPoints[0], testPublicURL), nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("CRL: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func listed(crl *x509.RevocationList, leaf *x509.Certificate) (x509.RevocationListEntry, bool) {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return e, true
		}
	}
	return x509.RevocationListEntry{}, false
}

// TestCRLPublication: a revocation appears in the shard named by the
// certificate, with its reason, signed by the issuer; with a publish delay
// only once the delay has passed; and an expired certificate drops out
// after one appearance.
func TestCRLPublication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.CRLPublishDelay = 2 * time.Hour }})
	acct := e.newAccount()
	got := acct.issue("crl.test")
	leaf := e.fetchChain(e.url(pathCert) + got.serial)
	issuer := leaf[1]
	crl := fetchCRL(t, e, leaf[0])
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	if _, ok := listed(crl, leaf[0]); ok {
		t.Fatal("an unrevoked certificate is listed")
	}
	wantStatus(t, acct.revoke(got.der, 4), http.StatusOK)
	e.clk.Step(time.Hour)
	if _, ok := listed(fetchCRL(t, e, leaf[0]), leaf[0]); ok {
		t.Fatal("listed before the publish delay passed")
	}
	e.clk.Step(time.Hour)
	entry, ok := listed(fetchCRL(t, e, leaf[0]), leaf[0])
	if !ok || entry.ReasonCode != 4 {
		t.Fatalf("after the delay: listed %v with reason %d, want superseded (4)", ok, entry.ReasonCode)
	}
	e.clk.SetTime(leaf[0].NotAfter.Add(time.Hour))
	if _, ok := listed(fetchCRL(t, e, leaf[0]), leaf[0]); !ok {
		t.Fatal("an expired certificate must appear in one CRL after expiry")
	}
	e.clk.Step(7 * time.Hour)
	if _, ok := listed(fetchCRL(t, e, leaf[0]), leaf[0]); ok {
		t.Fatal("still listed in the second CRL after expiry")
	}
}

func TestCRLNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	for _, path := range []string{"/crl/nope/1.crl", "/crl/e1/0.crl", "/crl/e1/129.crl", "/crl/e1/1.pem", "/crl/e1/x.crl"} {
		if res, _ := publicGet(t, e, http.MethodGet, path, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

// TestOCSP: off by default; when on, good then revoked with time and
// reason, over POST and GET; garbage gets the malformed response.
func TestOCSP(t *testing.T) {
	t.Parallel()
	if res, _ := publicGet(t, newEnv(t, envConfig{}), http.MethodPost, "/ocsp", []byte("x")); res.StatusCode != http.StatusNotFound {
		t.Errorf("OCSP served while disabled: %d", res.StatusCode)
	}
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.OCSP = true }})
	acct := e.newAccount()
	got := acct.issue("ocsp.test")
	chain := e.fetchChain(e.url(pathCert) + got.serial)
	req, err := ocsp.CreateRequest(chain[0], chain[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(method string) *ocsp.Response {
		t.Helper()
		var res *http.Response
		var body []byte
		if method == http.MethodPost {
			res, body = publicGet(t, e, method, "/ocsp", req)
		} else {
			res, body = publicGet(t, e, method, "/ocsp/"+b64Std(req), nil)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/ocsp-response" {
			t.Fatalf("Content-Type %q", ct)
		}
		r, err := ocsp.ParseResponseForCert(body, chain[0], chain[1])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ask(http.MethodPost); r.Status != ocsp.Good {
		t.Errorf("before revocation: status %d, want good", r.Status)
	}
	wantStatus(t, acct.revoke(got.der, 1), http.StatusOK)
	for _, m := range []string{http.MethodPost, http.MethodGet} {
		if r := ask(m); r.Status != ocsp.Revoked || r.RevocationReason != 1 || !r.RevokedAt.Equal(e.clk.Now().UTC().Truncate(time.Second)) {
			t.Errorf("%s after revocation: status %d reason %d at %s", m, r.Status, r.RevocationReason, r.RevokedAt)
		}
	}
	if _, body := publicGet(t, e, http.MethodPost, "/ocsp", []byte("garbage")); !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
		t.Errorf("garbage request answered %x", body)
	}
}

func b64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestManagementPebblePaths: the Pebble management paths test harnesses
// rely on.
func TestManagementPebblePaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	got := acct.issue("mgmt.test")
	h := e.srv.ManagementHandler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/roots/0", 200, "BEGIN CERTIFICATE"},
		{"/roots/1", 200, "BEGIN CERTIFICATE"},
		{"/roots/2", 404, "Page not found"},
		{"/intermediates/0", 200, "BEGIN CERTIFICATE"},
		{"/root-keys/0", 200, "BEGIN PRIVATE KEY"},
		{"/intermediate-keys/1", 200, "BEGIN PRIVATE KEY"},
		{"/intermediate-keys/2", 404, "Page not found"},
		{"/bundle", 200, "BEGIN CERTIFICATE"},
		{"/cert-status-by-serial/" + got.serial, 200, `"Status": "Valid"`},
		{"/cert-status-by-serial/zz", 400, "serial is not hexadecimal"},
		{"/cert-status-by-serial/0abc", 404, "Certificate not found"},
	}
	for _, tc := range tests {
		if code, body := get(tc.path); code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.path, code, body, tc.status, tc.want)
		}
	}
	wantStatus(t, acct.revoke(got.der, 5), http.StatusOK)
	if _, body := get("/cert-status-by-serial/" + got.serial); !strings.Contains(body, `"Status": "Revoked"`) || !strings.Contains(body, `"Reason": 5`) {
		t.Errorf("after revocation: %s", body)
	}
}
