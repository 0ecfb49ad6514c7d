package ca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// ariCertID is RFC 9773's certID: base64url(AKI) "." base64url(serial).
func ariCertID(c *x509.Certificate) string {
	return b64Encode(c.AuthorityKeyId) + "." + b64Encode(c.SerialNumber.Bytes())
}

func (e *env) renewalInfo(certID string) *response {
	e.t.Helper()
	return e.get(e.url(pathRenewalInfo) + "/" + certID)
}

func wantWindow(t testing.TB, r *response, start, end string) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	var ri struct {
		SuggestedWindow struct{ Start, End string } `json:"suggestedWindow"`
	}
	r.decode(t, &ri)
	if ri.SuggestedWindow.Start != start || ri.SuggestedWindow.End != end {
		t.Errorf("window [%s, %s], want [%s, %s]", ri.SuggestedWindow.Start, ri.SuggestedWindow.End, start, end)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 17280 || ra > 25920 {
		t.Errorf("Retry-After %q, want 6h ± 20%% in seconds", r.header.Get("Retry-After"))
	}
}

// TestRenewalInfoWindow: Boulder's RenewalInfoSimple (reference §6), golden
// values worked out from issuance time and notAfter.
func TestRenewalInfoWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile    string
		issueAfter time.Duration // fake clock advance before issuance
		start, end string
	}{
		// 90 days from 2026-07-20T12:00Z (backdated 1h): offset validity/3.
		{"", 0, "2026-09-17T13:44:35Z", "2026-09-19T08:55:23Z"},
		// 160 hours from 15:00Z: under 10 days, offset validity/2.
		{"shortlived", 3 * time.Hour, "2026-07-23T20:54:35Z", "2026-07-24T00:05:23Z"},
		// 45 days from 15:00Z.
		{"tlsserver", 3 * time.Hour, "2026-08-19T03:32:35Z", "2026-08-20T01:07:23Z"},
		// 5 minutes from 12:00Z, backdated 30 s (a tenth of the validity):
		// validity 4m30s, offset 2m15s from 12:04:29, margin 2.7 s.
		{"fiveminutes", 0, "2026-07-20T12:02:11Z", "2026-07-20T12:02:16Z"},
	}
	for _, tc := range tests {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{cfg: func(c *Config) {
				p := c.Profiles["tlsserver"]
				p.Validity, p.Description = 5*time.Minute, "five minutes"
				c.Profiles["fiveminutes"] = p
			}})
			e.clk.Step(tc.issueAfter)
			got := e.newAccount().issueOrder(newKey(t), map[string]any{"identifiers": dnsIDs("ari.test"), "profile": tc.profile})
			e.clk.Step(24 * time.Hour) // the window does not move with time
			r := e.renewalInfo(ariCertID(got.cert))
			wantWindow(t, r, tc.start, tc.end)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.header.Get("Replay-Nonce") != "" || !contains(r.header.Values("Link"), link(e.url(pathDirectory), "index")) {
				t.Errorf("headers %v: want no nonce on GET and the index link", r.header)
			}
		})
	}
}

func TestRenewalInfoRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	got := acct.issue("ari-revoked.test")
	wantRevoked(t, acct.revoke(got.der, 4), e, got.serial, 4)
	e.clk.Step(2*time.Hour + 500*time.Millisecond)
	now := e.clk.Now()
	wantWindow(t, e.renewalInfo(ariCertID(got.cert)),
		now.Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339),
		now.Add(-30*time.Minute).Truncate(time.Second).Format(time.RFC3339))
}

func TestRenewalInfoErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	got := e.newAccount().issue("ari-err.test")
	aki := b64Encode(got.cert.AuthorityKeyId)
	serial := b64Encode(got.cert.SerialNumber.Bytes())
	const prefix = "While parsing ARI CertID an error occurred :: "
	tests := []struct {
		name, certID string
		status       int
		detail       string
	}{
		{"no dot", "abc", 400, prefix + "Invalid path"},
		{"three parts", aki + "." + serial + ".x", 400, prefix + "Invalid path"},
		{"empty AKI", "." + serial, 400, prefix + "Invalid path"},
		{"empty serial", aki + ".", 400, prefix + "Invalid path"},
		{"AKI not base64url", "!!." + serial, 400, prefix + "illegal base64 data at input byte 0"},
		{"unknown AKI", b64Encode([]byte("not an issuer")) + "." + serial, 404,
			prefix + "path contained an Authority Key Identifier that did not match a known issuer"},
		{"unknown serial", aki + "." + b64Encode(append([]byte{0x66}, make([]byte, 17)...)), 404, "Requested certificate was not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.renewalInfo(tc.certID), "malformed", tc.status, tc.detail)
		})
	}
}

func TestReplaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct, other := e.newAccount(), e.newAccount()
	old := acct.issue("rep.test", "www.rep.test")
	certID := ariCertID(old.cert)

	o, u := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("rep.test", "new.rep.test"), "replaces": certID})
	if o.Replaces != certID {
		t.Errorf("replaces = %q, want %q", o.Replaces, certID)
	}
	alreadyReplaced := `cannot indicate an order replaces certificate with serial "` + old.serial + `", which already has a replacement order`
	wantProblem(t, acct.newOrderRaw(map[string]any{"identifiers": dnsIDs("rep.test", "new.rep.test"), "replaces": certID}),
		"alreadyReplaced", 409, alreadyReplaced)
	wantProblem(t, acct.newOrderRaw(map[string]any{"identifiers": dnsIDs("www.rep.test"), "replaces": certID}),
		"alreadyReplaced", 409, alreadyReplaced)

	// Once the replacement order is invalid, another may replace the certificate.
	e.clk.Step(7 * 24 * time.Hour)
	if got := e.getOrder(u).Status; got != acme.StatusInvalid {
		t.Fatalf("replacement order is %s after expiry", got)
	}
	o2, u2 := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("www.rep.test"), "replaces": certID})
	if u2 == u || o2.Replaces != certID {
		t.Errorf("second replacement %q replaces %q", u2, o2.Replaces)
	}

	fresh := acct.issue("fresh.rep.test")
	unknown := b64Encode(old.cert.AuthorityKeyId) + "." + b64Encode(append([]byte{0x66}, make([]byte, 17)...))
	tests := []struct {
		name     string
		by       *client
		names    []string
		replaces string
		typ      string
		status   int
		detail   string
	}{
		{"another account's certificate", other, []string{"fresh.rep.test"}, ariCertID(fresh.cert), "unauthorized", 403,
			"requester account did not request the certificate being replaced by this order"},
		{"unrelated names", acct, []string{"elsewhere.test"}, ariCertID(fresh.cert), "malformed", 400,
			"identifiers in this order do not match any identifiers in the certificate being replaced"},
		{"unknown certificate", acct, []string{"fresh.rep.test"}, unknown, "malformed", 404,
			`request included ` + "`replaces`" + ` field, but no current certificate with serial "660000000000000000000000000000000000" exists`},
		{"malformed certID", acct, []string{"fresh.rep.test"}, "nope", "malformed", 400,
			"Could not validate ARI 'replaces' field :: While parsing ARI CertID an error occurred :: Invalid path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.by.newOrderRaw(map[string]any{"identifiers": dnsIDs(tc.names...), "replaces": tc.replaces}),
				tc.typ, tc.status, tc.detail)
		})
	}
	// A refused replacement records nothing: the owner may still replace it.
	if o, _ := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("fresh.rep.test"), "replaces": ariCertID(fresh.cert)}); o.Replaces == "" {
		t.Error("owner's replacement lost its replaces field")
	}
}

// TestReplacesNotSatisfiedByReuse: an order that replaces a certificate is
// never an older order without "replaces" handed back by order reuse.
func TestReplacesNotSatisfiedByReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	old := acct.issue("reuse-rep.test")
	_, plain := acct.newOrder("reuse-rep.test") // ready, reusable, replaces nothing
	o, u := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("reuse-rep.test"), "replaces": ariCertID(old.cert)})
	if u == plain || o.Replaces != ariCertID(old.cert) {
		t.Errorf("got order %q (replaces %q), the earlier plain order is %q", u, o.Replaces, plain)
	}
	if c := e.storedCert(old.serial); c.ReplacementOrder != lastID(t, u) {
		t.Errorf("certificate's replacement order is %d, want %d", c.ReplacementOrder, lastID(t, u))
	}
}

// TestIncidents: an incident declared over the management API moves the
// ARI window of matching certificates (by serial, identifier glob or
// issuer) into the past with its explanationURL; others keep theirs.
func TestIncidents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	hit := acct.issue("www.incident.test")
	miss := acct.issue("other.test")
	mgmt := e.srv.ManagementHandler()
	send := func(method, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mgmt.ServeHTTP(rec, httptest.NewRequest(method, "/incidents", strings.NewReader(body)))
		return rec
	}
	tests := []struct {
		name, body string
		status     int
	}{
		{"no criteria", `{"name":"x","explanationURL":"https://example.test/i"}`, http.StatusBadRequest},
		{"no URL", `{"name":"x","identifier":"*.incident.test"}`, http.StatusBadRequest},
		{"bad glob", `{"name":"x","explanationURL":"u","identifier":"[."}`, http.StatusBadRequest},
		{"not JSON", `{`, http.StatusBadRequest},
		{"by identifier", `{"name":"mis-issuance","explanationURL":"https://example.test/i","identifier":"*.incident.test"}`, http.StatusCreated},
	}
	for _, tc := range tests {
		if rec := send(http.MethodPost, tc.body); rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}
	now := e.clk.Now()
	r := e.renewalInfo(ariCertID(hit.cert))
	wantWindow(t, r, now.Add(-time.Hour).Truncate(time.Second).Format(time.RFC3339),
		now.Add(-30*time.Minute).Truncate(time.Second).Format(time.RFC3339))
	if !strings.Contains(string(r.body), `"explanationURL": "https://example.test/i"`) {
		t.Errorf("no explanationURL in %s", r.body)
	}
	if r := e.renewalInfo(ariCertID(miss.cert)); strings.Contains(string(r.body), "explanationURL") {
		t.Errorf("an unmatched certificate got the incident: %s", r.body)
	}
	if rec := send(http.MethodGet, ""); !strings.Contains(rec.Body.String(), "mis-issuance") {
		t.Errorf("list: %s", rec.Body)
	}
	send(http.MethodDelete, "")
	if r := e.renewalInfo(ariCertID(hit.cert)); strings.Contains(string(r.body), "explanationURL") {
		t.Errorf("incident still applies after clearing: %s", r.body)
	}
}

// TestSetRenewalInfo: Pebble's management POST /set-renewal-info/ stores a
// per-serial renewal-info body (Pebble's raw ARIResponse, or a window)
// that renewal-info serves before incidents and the computed window.
func TestSetRenewalInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	raw := acct.issue("raw.override.test")
	win := acct.issue("window.override.test")
	other := acct.issue("other.override.test")
	certPEM := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	mgmt := e.srv.ManagementHandler()
	send := func(body any) *httptest.ResponseRecorder {
		b, _ := json.Marshal(body)
		rec := httptest.NewRecorder()
		mgmt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/set-renewal-info/", bytes.NewReader(b)))
		return rec
	}
	foreign := newSelfSigned(t)
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"not JSON", "{", http.StatusBadRequest},
		{"neither", map[string]any{"certificate": certPEM(raw.der)}, http.StatusBadRequest},
		{"bad PEM", map[string]any{"certificate": "x", "ariResponse": "{}"}, http.StatusBadRequest},
		{"unknown cert", map[string]any{"certificate": certPEM(foreign), "ariResponse": "{}"}, http.StatusNotFound},
		{"empty window", map[string]any{"certificate": certPEM(win.der),
			"suggestedWindow": map[string]string{"start": "2026-08-01T00:00:00Z", "end": "2026-08-01T00:00:00Z"}}, http.StatusBadRequest},
		{"raw", map[string]any{"Certificate": certPEM(raw.der), "ARIResponse": "not even JSON"}, http.StatusOK},
		{"window", map[string]any{"certificate": certPEM(win.der), "explanationURL": "https://example.test/why",
			"suggestedWindow": map[string]string{"start": "2026-08-01T00:00:00Z", "end": "2026-08-02T00:00:00Z"}}, http.StatusOK},
	}
	for _, tc := range tests {
		if rec := send(tc.body); rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}
	r := e.renewalInfo(ariCertID(raw.cert))
	if r.status != http.StatusOK || string(r.body) != "not even JSON" || r.header.Get("Retry-After") != "21600" {
		t.Errorf("raw override: %d %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	r = e.renewalInfo(ariCertID(win.cert))
	var ri renewalInfoJSON
	r.decode(t, &ri)
	if ri.SuggestedWindow.Start.Format(time.RFC3339) != "2026-08-01T00:00:00Z" ||
		ri.SuggestedWindow.End.Format(time.RFC3339) != "2026-08-02T00:00:00Z" || ri.ExplanationURL != "https://example.test/why" {
		t.Errorf("window override: %s", r.body)
	}
	if r := e.renewalInfo(ariCertID(other.cert)); strings.Contains(string(r.body), "2026-08-01") || r.header.Get("Retry-After") == "21600" {
		t.Errorf("an unrelated certificate got an override: %s", r.body)
	}
}

// newSelfSigned is a certificate this CA never issued.
func newSelfSigned(t *testing.T) []byte {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x5eed), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
