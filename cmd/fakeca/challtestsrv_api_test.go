package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/asn1"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// challtestsrvAPI is a running `pebble-challtestsrv` process: its
// management URL, DNS address and HTTP-01 address.
type challtestsrvAPI struct {
	mgmt, dns, http01, tlsalpn01 string
}

// startChalltestsrvAPI starts `pebble-challtestsrv` (the name harnesses
// use) with an empty environment and the listeners the API tests need.
func startChalltestsrvAPI(t *testing.T) challtestsrvAPI {
	t.Helper()
	h, d, m, a := freePort(t), freePort(t), freePort(t), freePort(t)
	startProc(t, fakecaBinary(t), "pebble-challtestsrv", t.TempDir(), []string{}, addr(m),
		"-http01", addr(h), "-https01", "", "-tlsalpn01", addr(a), "-doh", "", "-dnsserver", addr(d),
		"-management", addr(m), "-defaultIPv4", "192.0.2.7", "-defaultIPv6", "")
	return challtestsrvAPI{mgmt: "http://" + addr(m), dns: addr(d), http01: "http://" + addr(h), tlsalpn01: addr(a)}
}

// call posts body to a management path and returns the status and body.
func (c challtestsrvAPI) call(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(c.mgmt+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// must posts body and fails the test unless the answer is 200.
func (c challtestsrvAPI) must(t *testing.T, path, body string) {
	t.Helper()
	if code, b := c.call(t, path, body); code != http.StatusOK {
		t.Fatalf("%s %s: %d %q", path, body, code, b)
	}
}

// query asks the DNS server over UDP; the answer's records are rendered
// as "TYPE value" strings, the rcode by name.
func (c challtestsrvAPI) query(t *testing.T, name string, qtype uint16) (string, []string) {
	t.Helper()
	in, err := dns.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), c.dns)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []string
	for _, rr := range in.Answer {
		f := strings.Fields(rr.String())
		rrs = append(rrs, f[3]+" "+strings.Join(f[4:], " "))
	}
	slices.Sort(rrs)
	return dns.RcodeToString[in.Rcode], rrs
}

// TestChalltestsrvAPIProcess drives the management API of a
// `pebble-challtestsrv` process and checks the DNS answers each call
// produces (reference §2.2–2.3). It passes against pebble-challtestsrv
// 2.10.3 too (scripts/pebble-compat-test.sh).
func TestChalltestsrvAPIProcess(t *testing.T) {
	c := startChalltestsrvAPI(t)
	tests := []struct {
		name, path, body string
		qname            string
		qtype            uint16
		rcode            string
		want             []string
	}{
		{"default A", "", "", "x.example.test", dns.TypeA, "NOERROR", []string{"A 192.0.2.7"}},
		{"default AAAA off", "", "", "x.example.test", dns.TypeAAAA, "NOERROR", nil},
		{"add-a", "/add-a", `{"host":"a.example.test","addresses":["10.0.0.1","10.0.0.2"]}`,
			"a.example.test", dns.TypeA, "NOERROR", []string{"A 10.0.0.1", "A 10.0.0.2"}},
		{"clear-a falls back to the default", "/clear-a", `{"host":"a.example.test"}`,
			"a.example.test", dns.TypeA, "NOERROR", []string{"A 192.0.2.7"}},
		{"add-aaaa", "/add-aaaa", `{"host":"v6.example.test","addresses":["2001:db8::1"]}`,
			"v6.example.test", dns.TypeAAAA, "NOERROR", []string{"AAAA 2001:db8::1"}},
		{"set-txt appends", "/set-txt", `{"host":"_acme-challenge.t.example.test.","value":"one"}`,
			"_acme-challenge.t.example.test", dns.TypeTXT, "NOERROR", []string{`TXT "one"`}},
		{"set-txt again", "/set-txt", `{"host":"_acme-challenge.t.example.test.","value":"two"}`,
			"_acme-challenge.t.example.test", dns.TypeTXT, "NOERROR", []string{`TXT "one"`, `TXT "two"`}},
		{"clear-txt removes all", "/clear-txt", `{"host":"_acme-challenge.t.example.test."}`,
			"_acme-challenge.t.example.test", dns.TypeTXT, "NOERROR", nil},
		{"add-caa", "/add-caa", `{"host":"caa.example.test","policies":[{"tag":"issue","value":"letsencrypt.org"}]}`,
			"caa.example.test", dns.TypeCAA, "NOERROR", []string{`CAA 0 issue "letsencrypt.org"`}},
		{"set-cname is followed", "/set-cname", `{"host":"alias.example.test","target":"caa.example.test"}`,
			"alias.example.test", dns.TypeCAA, "NOERROR", []string{`CAA 0 issue "letsencrypt.org"`, "CNAME caa.example.test."}},
		{"set-servfail", "/set-servfail", `{"host":"broken.example.test"}`,
			"broken.example.test", dns.TypeA, "SERVFAIL", nil},
		{"clear-servfail", "/clear-servfail", `{"host":"broken.example.test"}`,
			"broken.example.test", dns.TypeA, "NOERROR", []string{"A 192.0.2.7"}},
		{"clear-cname", "/clear-cname", `{"host":"alias.example.test"}`,
			"alias.example.test", dns.TypeCAA, "NOERROR", nil},
		{"clear-caa", "/clear-caa", `{"host":"caa.example.test"}`, "caa.example.test", dns.TypeCAA, "NOERROR", nil},
		{"clear-aaaa", "/clear-aaaa", `{"host":"v6.example.test"}`, "v6.example.test", dns.TypeAAAA, "NOERROR", nil},
		{"set-default-ipv4", "/set-default-ipv4", `{"ip":"192.0.2.9"}`, "y.example.test", dns.TypeA, "NOERROR", []string{"A 192.0.2.9"}},
		{"set-default-ipv6", "/set-default-ipv6", `{"ip":"2001:db8::9"}`, "y.example.test", dns.TypeAAAA, "NOERROR",
			[]string{"AAAA 2001:db8::9"}},
		{"set-default-ipv4 off", "/set-default-ipv4", `{"ip":""}`, "y.example.test", dns.TypeA, "NOERROR", nil},
		{"other types are not implemented", "", "", "x.example.test", dns.TypeMX, "NOTIMP", nil},
	}
	for _, tt := range tests {
		if tt.path != "" {
			c.must(t, tt.path, tt.body)
		}
		rcode, got := c.query(t, tt.qname, tt.qtype)
		if rcode != tt.rcode || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %s %v, want %s %v", tt.name, rcode, got, tt.rcode, tt.want)
		}
	}
	for _, bad := range []struct{ path, body string }{
		{"/add-a", `{"host":"a.example.test"}`}, {"/set-txt", `{"value":"x"}`}, {"/add-http01", `not json`},
	} {
		if code, _ := c.call(t, bad.path, bad.body); code != http.StatusBadRequest {
			t.Errorf("%s %s: %d, want 400", bad.path, bad.body, code)
		}
	}
}

// TestChalltestsrvHTTPProcess checks the HTTP-01 responder's map, its 302
// redirects and the request histories through a process.
func TestChalltestsrvHTTPProcess(t *testing.T) {
	c := startChalltestsrvAPI(t)
	c.must(t, "/add-http01", `{"token":"tok","content":"tok.thumb"}`)
	c.must(t, "/add-redirect", `{"path":"/.well-known/acme-challenge/moved","targetURL":"http://elsewhere.example.test/x"}`)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, body, location string
		code                 int
	}{
		{"tok", "tok.thumb", "", http.StatusOK},
		{"unknown", "", "", http.StatusOK},
		{"moved", "", "http://elsewhere.example.test/x", http.StatusFound},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.http01+"/.well-known/acme-challenge/"+tc.path, nil)
		req.Host, req.Header["User-Agent"] = "h.example.test", []string{"compat-test/1"}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || tc.code == http.StatusOK && string(b) != tc.body || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %d %q Location %q", tc.path, resp.StatusCode, b, resp.Header.Get("Location"))
		}
	}
	_, hist := c.call(t, "/http-request-history", `{"host":"h.example.test"}`)
	var entries []struct {
		URL, Host, UserAgent string
		HTTPS                bool
	}
	if err := json.Unmarshal([]byte(hist), &entries); err != nil || len(entries) != 3 ||
		entries[0].URL != "/.well-known/acme-challenge/tok" || entries[0].UserAgent != "compat-test/1" || entries[0].HTTPS {
		t.Fatalf("http history %s (%v)", hist, err)
	}
	c.query(t, "h.example.test", dns.TypeA)
	_, hist = c.call(t, "/dns-request-history", `{"host":"h.example.test"}`)
	var dnsEntries []struct{ Question struct{ Name string } }
	if err := json.Unmarshal([]byte(hist), &dnsEntries); err != nil || len(dnsEntries) != 1 ||
		dnsEntries[0].Question.Name != "h.example.test." {
		t.Fatalf("dns history %s (%v)", hist, err)
	}
	c.must(t, "/clear-request-history", `{"host":"h.example.test","type":"http"}`)
	if _, hist = c.call(t, "/http-request-history", `{"host":"h.example.test"}`); !bytes.Contains([]byte(hist), []byte("[]")) {
		t.Errorf("after clear-request-history: %s", hist)
	}
}

// TestChalltestsrvTLSALPNProcess checks the TLS-ALPN-01 responder of a
// process: the certificate for the SNI carries the name and the critical
// acmeIdentifier extension with SHA-256 of the key authorization (RFC
// 8737), and the handshake is in the tlsalpn01 request history.
func TestChalltestsrvTLSALPNProcess(t *testing.T) {
	c := startChalltestsrvAPI(t)
	c.must(t, "/add-tlsalpn01", `{"host":"alpn.example.test","content":"tok.thumb"}`)
	conn, err := tls.Dial("tcp", c.tlsalpn01, &tls.Config{ServerName: "alpn.example.test",
		NextProtos: []string{"acme-tls/1"}, InsecureSkipVerify: true}) // #nosec G402 -- the challenge certificate is self-signed
	if err != nil {
		t.Fatal(err)
	}
	state := conn.ConnectionState()
	conn.Close()
	cert := state.PeerCertificates[0]
	sum := sha256.Sum256([]byte("tok.thumb"))
	want, _ := asn1.Marshal(sum[:])
	var found bool
	for _, e := range cert.Extensions {
		if e.Id.String() == "1.3.6.1.5.5.7.1.31" {
			found = e.Critical && bytes.Equal(e.Value, want)
		}
	}
	if state.NegotiatedProtocol != "acme-tls/1" || !slices.Equal(cert.DNSNames, []string{"alpn.example.test"}) || !found {
		t.Errorf("protocol %q, names %v, acmeIdentifier ok %v", state.NegotiatedProtocol, cert.DNSNames, found)
	}
	_, hist := c.call(t, "/tlsalpn01-request-history", `{"host":"alpn.example.test"}`)
	var entries []struct {
		ServerName      string
		SupportedProtos []string
	}
	if err := json.Unmarshal([]byte(hist), &entries); err != nil || len(entries) != 1 ||
		entries[0].ServerName != "alpn.example.test" || !slices.Equal(entries[0].SupportedProtos, []string{"acme-tls/1"}) {
		t.Errorf("tlsalpn01 history %s (%v)", hist, err)
	}
}
