package dnsserver

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// api posts JSON bodies to a management listener.
type api struct {
	t    *testing.T
	base string
}

// do sends body with method to path and returns the status, body and
// Content-Type.
func (a api) do(method, path, body string) (int, string, string) {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

// ok posts body to path and requires pebble-challtestsrv's success: 200
// with an empty body.
func (a api) ok(path, body string) {
	a.t.Helper()
	if status, got, _ := a.do(http.MethodPost, path, body); status != http.StatusOK || got != "" {
		a.t.Fatalf("POST %s %s: %d %q, want 200 and no body", path, body, status, got)
	}
}

// compatServer starts a server with every listener on.
func compatServer(t *testing.T) (*Server, api) {
	s, _ := testServer(t, func(c *Config) {
		c.HTTP01Listen, c.TLSALPN01Listen, c.ManagementListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	})
	return s, api{t: t, base: "http://" + s.ListenerAddr(ListenerManagement)}
}

// answers returns the answer section for (name, qtype) as text.
func answers(t *testing.T, s *Server, name string, qtype uint16) []string {
	t.Helper()
	return texts(exchange(t, s.Addr(), "udp", question(name, qtype)).Answer)
}

// TestChalltestsrvDNS drives every DNS endpoint and checks the answers.
func TestChalltestsrvDNS(t *testing.T) {
	s, a := compatServer(t)
	steps := []struct {
		name, path, body string
		qname            string
		qtype            uint16
		want             []string
	}{
		{"set-default-ipv4", "/set-default-ipv4", `{"ip":"10.0.0.1"}`, "any.example.org.", dns.TypeA, []string{"any.example.org. 0 IN A 10.0.0.1"}},
		{"set-default-ipv4 off", "/set-default-ipv4", `{"ip":""}`, "any.example.org.", dns.TypeA, []string{}},
		{"set-default-ipv6", "/set-default-ipv6", `{"ip":"fd00::1"}`, "any.example.org.", dns.TypeAAAA, []string{"any.example.org. 0 IN AAAA fd00::1"}},
		{"set-default-ipv6 off", "/set-default-ipv6", `{"ip":""}`, "any.example.org.", dns.TypeAAAA, []string{}},
		{"add-a", "/add-a", `{"host":"a.example.test","addresses":["192.0.2.1","192.0.2.2"]}`, "a.example.test.", dns.TypeA,
			[]string{"a.example.test. 0 IN A 192.0.2.1", "a.example.test. 0 IN A 192.0.2.2"}},
		{"add-a appends", "/add-a", `{"host":"a.example.test.","addresses":["192.0.2.3"]}`, "a.example.test.", dns.TypeA,
			[]string{"a.example.test. 0 IN A 192.0.2.1", "a.example.test. 0 IN A 192.0.2.2", "a.example.test. 0 IN A 192.0.2.3"}},
		{"clear-a", "/clear-a", `{"host":"a.example.test"}`, "a.example.test.", dns.TypeA, []string{}},
		{"add-aaaa", "/add-aaaa", `{"host":"a.other.org","addresses":["2001:db8::5"]}`, "a.other.org.", dns.TypeAAAA,
			[]string{"a.other.org. 0 IN AAAA 2001:db8::5"}},
		{"clear-aaaa", "/clear-aaaa", `{"host":"a.other.org"}`, "a.other.org.", dns.TypeAAAA, []string{}},
		{"add-caa", "/add-caa", `{"host":"c.example.test","policies":[{"tag":"issue","value":"letsencrypt.org"},{"tag":"iodef","value":"mailto:x@example.test"}]}`,
			"c.example.test.", dns.TypeCAA, []string{`c.example.test. 0 IN CAA 0 issue "letsencrypt.org"`, `c.example.test. 0 IN CAA 0 iodef "mailto:x@example.test"`}},
		{"clear-caa", "/clear-caa", `{"host":"c.example.test"}`, "c.example.test.", dns.TypeCAA, []string{}},
		{"set-txt", "/set-txt", `{"host":"_acme-challenge.x.example.test.","value":"v1"}`, "_acme-challenge.x.example.test.", dns.TypeTXT,
			[]string{`_acme-challenge.x.example.test. 0 IN TXT "v1"`}},
		{"set-txt appends", "/set-txt", `{"host":"_acme-challenge.x.example.test","value":"v2"}`, "_acme-challenge.x.example.test.", dns.TypeTXT,
			[]string{`_acme-challenge.x.example.test. 0 IN TXT "v1"`, `_acme-challenge.x.example.test. 0 IN TXT "v2"`}},
		{"clear-txt removes all", "/clear-txt", `{"host":"_acme-challenge.x.example.test"}`, "_acme-challenge.x.example.test.", dns.TypeTXT, []string{}},
		{"set-cname", "/set-cname", `{"host":"alias.other.org","target":"_acme-challenge.x.example.test"}`, "alias.other.org.", dns.TypeCNAME,
			[]string{"alias.other.org. 0 IN CNAME _acme-challenge.x.example.test."}},
		{"clear-cname", "/clear-cname", `{"host":"alias.other.org"}`, "alias.other.org.", dns.TypeCNAME, []string{}},
		{"JSON keys ignore case", "/set-txt", `{"HOST":"k.example.test","Value":"v"}`, "k.example.test.", dns.TypeTXT,
			[]string{`k.example.test. 0 IN TXT "v"`}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			a.ok(st.path, st.body)
			if got := answers(t, s, st.qname, st.qtype); !slices.Equal(got, st.want) {
				t.Errorf("answer %q, want %q", got, st.want)
			}
		})
	}
	t.Run("set-servfail and clear-servfail", func(t *testing.T) {
		a.ok("/set-servfail", `{"host":"k.example.test"}`)
		if r := exchange(t, s.Addr(), "udp", question("k.example.test.", dns.TypeTXT)); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
		}
		a.ok("/clear-servfail", `{"host":"k.example.test"}`)
		if got := answers(t, s, "k.example.test.", dns.TypeTXT); len(got) != 1 {
			t.Errorf("after clear-servfail: %q", got)
		}
	})
	t.Run("dns-request-history and clear-request-history", func(t *testing.T) {
		exchange(t, s.Addr(), "tcp", question("Hist.example.test.", dns.TypeTXT))
		want := "[\n   {\n      \"Question\": {\n         \"Name\": \"Hist.example.test.\",\n         \"Qtype\": 16,\n" +
			"         \"Qclass\": 1\n      },\n      \"UserAgent\": \"\"\n   }\n]"
		status, body, ctype := a.do(http.MethodPost, "/dns-request-history", `{"host":"hist.example.test"}`)
		if status != http.StatusOK || body != want || ctype != "application/json; charset=utf-8" {
			t.Errorf("history: %d %q %q\nwant:\n%s", status, ctype, body, want)
		}
		a.ok("/clear-request-history", `{"host":"hist.example.test","type":"dns"}`)
		if _, body, _ := a.do(http.MethodPost, "/dns-request-history", `{"host":"hist.example.test"}`); body != "[]" {
			t.Errorf("after clear: %q", body)
		}
	})
}

// TestChalltestsrvHTTP01 drives the HTTP-01 endpoints against the HTTP-01
// listener.
func TestChalltestsrvHTTP01(t *testing.T) {
	s, a := compatServer(t)
	web := "http://" + s.ListenerAddr(ListenerHTTP01)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, web+path, nil)
		req.Host = "web.example.test:5002"
		req.Header.Set("User-Agent", "test-agent")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get("Location")
	}
	a.ok("/add-http01", `{"token":"tok","content":"tok.thumbprint"}`)
	if status, body, _ := get("/.well-known/acme-challenge/tok"); status != 200 || body != "tok.thumbprint" {
		t.Errorf("provisioned token: %d %q", status, body)
	}
	if status, body, _ := get("/.well-known/acme-challenge/other"); status != 200 || body != "" {
		t.Errorf("unknown token: %d %q, want challtestsrv's empty 200", status, body)
	}
	a.ok("/del-http01", `{"token":"tok"}`)
	if _, body, _ := get("/.well-known/acme-challenge/tok"); body != "" {
		t.Errorf("deleted token still served: %q", body)
	}
	a.ok("/add-redirect", `{"path":"/.well-known/acme-challenge/r","targetURL":"http://elsewhere.test/x"}`)
	if status, _, loc := get("/.well-known/acme-challenge/r"); status != http.StatusFound || loc != "http://elsewhere.test/x" {
		t.Errorf("redirect: %d %q", status, loc)
	}
	a.ok("/del-redirect", `{"path":"/.well-known/acme-challenge/r"}`)
	if status, _, _ := get("/.well-known/acme-challenge/r"); status != 200 {
		t.Errorf("deleted redirect: %d", status)
	}
	_, hist, _ := a.do(http.MethodPost, "/http-request-history", `{"host":"web.example.test"}`)
	first := "[\n   {\n      \"URL\": \"/.well-known/acme-challenge/tok\",\n      \"Host\": \"web.example.test:5002\",\n" +
		"      \"HTTPS\": false,\n      \"ServerName\": \"\",\n      \"UserAgent\": \"test-agent\"\n   },"
	if !strings.HasPrefix(hist, first) || strings.Count(hist, `"URL"`) != 5 {
		t.Errorf("http history:\n%s\nwant 5 events starting:\n%s", hist, first)
	}
	a.ok("/clear-request-history", `{"host":"web.example.test","type":"http"}`)
	if _, hist, _ := a.do(http.MethodPost, "/http-request-history", `{"host":"web.example.test"}`); hist != "[]" {
		t.Errorf("after clear: %q", hist)
	}
}

// alpnHandshake connects to the TLS-ALPN-01 listener.
func alpnHandshake(t *testing.T, s *Server, sni string, protos ...string) (*x509.Certificate, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config: &tls.Config{ServerName: sni, NextProtos: protos, InsecureSkipVerify: true}} // #nosec G402 -- a challenge certificate is self-signed
	conn, err := d.DialContext(t.Context(), "tcp", s.ListenerAddr(ListenerTLSALPN01))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cs := conn.(*tls.Conn).ConnectionState()
	if cs.NegotiatedProtocol != ACMETLS1Protocol {
		t.Errorf("negotiated %q", cs.NegotiatedProtocol)
	}
	return cs.PeerCertificates[0], nil
}

// TestChalltestsrvTLSALPN01 drives the TLS-ALPN-01 endpoints and checks the
// RFC 8737 certificate.
func TestChalltestsrvTLSALPN01(t *testing.T) {
	s, a := compatServer(t)
	a.ok("/add-tlsalpn01", `{"host":"alpn.example.test","content":"tok.thumbprint"}`)
	a.ok("/add-tlsalpn01", `{"host":"127.0.0.1","content":"ip.thumbprint"}`)
	tests := []struct {
		name, sni, keyAuth string
		protos             []string
		wantDNS            []string
		wantIP             string
		wantErr            bool
	}{
		{name: "DNS identifier", sni: "alpn.example.test", keyAuth: "tok.thumbprint", protos: []string{ACMETLS1Protocol}, wantDNS: []string{"alpn.example.test"}},
		{name: "IP identifier through its reverse name", sni: "1.0.0.127.in-addr.arpa", keyAuth: "ip.thumbprint", protos: []string{ACMETLS1Protocol}, wantIP: "127.0.0.1"},
		{name: "other ALPN offered too", sni: "alpn.example.test", protos: []string{"h2", ACMETLS1Protocol}, wantErr: true},
		{name: "unknown SNI", sni: "nobody.example.test", protos: []string{ACMETLS1Protocol}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := alpnHandshake(t, s, tt.sni, tt.protos...)
			if tt.wantErr {
				if err == nil {
					t.Fatal("handshake succeeded, want failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cert.DNSNames, tt.wantDNS) || (tt.wantIP != "" && (len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != tt.wantIP)) {
				t.Errorf("SANs %v %v", cert.DNSNames, cert.IPAddresses)
			}
			sum := sha256.Sum256([]byte(tt.keyAuth))
			want, _ := asn1.Marshal(sum[:])
			i := slices.IndexFunc(cert.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}) })
			if i < 0 || !cert.Extensions[i].Critical || string(cert.Extensions[i].Value) != string(want) {
				t.Errorf("acmeIdentifier extension missing, not critical or wrong")
			}
		})
	}
	t.Run("tlsalpn01-request-history", func(t *testing.T) {
		_, body, _ := a.do(http.MethodPost, "/tlsalpn01-request-history", `{"host":"alpn.example.test"}`)
		want := "[\n   {\n      \"ServerName\": \"alpn.example.test\",\n      \"SupportedProtos\": [\n         \"acme-tls/1\"\n      ]\n   },"
		if !strings.HasPrefix(body, want) || strings.Count(body, "ServerName") != 2 {
			t.Errorf("history:\n%s", body)
		}
	})
	t.Run("del-tlsalpn01", func(t *testing.T) {
		a.ok("/del-tlsalpn01", `{"host":"alpn.example.test"}`)
		if _, err := alpnHandshake(t, s, "alpn.example.test", ACMETLS1Protocol); err == nil {
			t.Error("handshake still succeeds")
		}
	})
}

// TestManagementBadInput checks pebble-challtestsrv's status codes and
// texts for bad requests, and that a rejected request changes nothing.
func TestManagementBadInput(t *testing.T) {
	s, a := compatServer(t)
	const plain = "text/plain; charset=utf-8"
	tests := []struct {
		name, method, path, body string
		status                   int
		want, ctype              string
	}{
		{name: "empty body", path: "/set-txt", status: 400, want: "expected JSON POST body, was empty\n", ctype: plain},
		{name: "malformed JSON", path: "/set-txt", body: `{"host":`, status: 400, want: "unexpected end of JSON input\n", ctype: plain},
		{name: "wrong JSON type", path: "/add-a", body: `{"host":"a.test","addresses":"1.2.3.4"}`, status: 400,
			want: "json: cannot unmarshal string into Go struct field .Addresses of type []string\n", ctype: plain},
		{name: "missing field is a bare 400", path: "/set-txt", body: `{"host":"a.test"}`, status: 400},
		{name: "missing host is a bare 400", path: "/clear-txt", body: `{}`, status: 400},
		{name: "missing addresses is a bare 400", path: "/add-a", body: `{"host":"a.test","addresses":[]}`, status: 400},
		{name: "missing CAA policies", path: "/add-caa", body: `{"host":"a.test"}`, status: 400},
		{name: "missing CNAME target", path: "/set-cname", body: `{"host":"a.test"}`, status: 400},
		{name: "missing token", path: "/add-http01", body: `{"content":"x"}`, status: 400},
		{name: "missing redirect target", path: "/add-redirect", body: `{"path":"/x"}`, status: 400},
		{name: "missing tls-alpn-01 content", path: "/add-tlsalpn01", body: `{"host":"a.test"}`, status: 400},
		{name: "one bad address rejects all", path: "/add-a", body: `{"host":"bad.example.test","addresses":["192.0.2.1","::1"]}`,
			status: 400, want: "addresses[1]: \"::1\" is not an IPv4 address\n", ctype: plain},
		{name: "bad default IP", path: "/set-default-ipv4", body: `{"ip":"not-an-ip"}`, status: 400,
			want: "\"not-an-ip\" is not an IP address\n", ctype: plain},
		{name: "bad host name", path: "/set-txt", body: `{"host":"a b..test","value":"v"}`, status: 400,
			want: "host: \"a b..test\" is not a domain name\n", ctype: plain},
		{name: "bad CAA tag", path: "/add-caa", body: `{"host":"a.test","policies":[{"tag":"is sue","value":"x"}]}`, status: 400,
			want: "policies[0].tag: \"is sue\" is not 1-15 letters or digits\n", ctype: plain},
		{name: "history without host", path: "/dns-request-history", body: `{}`, status: 400,
			want: "host parameter of POST body must not be empty\n", ctype: plain},
		{name: "clear history without host", path: "/clear-request-history", body: `{"type":"dns"}`, status: 400,
			want: "host parameter must not be empty\n", ctype: plain},
		{name: "clear history of an unknown type", path: "/clear-request-history", body: `{"host":"a","type":"smtp"}`, status: 400,
			want: "\"smtp\" event type unknown\n", ctype: plain},
		{name: "unknown path", path: "/add-mx", body: `{}`, status: 404, want: "404 page not found\n", ctype: plain},
		{name: "any method is accepted", method: http.MethodPut, path: "/set-txt", body: `{"host":"put.example.test","value":"v"}`, status: 200},
		{name: "oversized body", path: "/set-txt", body: `{"host":"a.test","value":"` + strings.Repeat("x", maxBodyBytes) + `"}`,
			status: 413, want: "http: request body too large\n", ctype: plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			status, body, ctype := a.do(method, tt.path, tt.body)
			if status != tt.status || body != tt.want || (tt.ctype != "" && ctype != tt.ctype) {
				t.Errorf("%d %q (%s), want %d %q (%s)", status, body, ctype, tt.status, tt.want, tt.ctype)
			}
		})
	}
	if got := s.Records().Get("bad.example.test", dns.TypeA); len(got) != 0 {
		t.Errorf("a rejected /add-a left records: %v", got)
	}
	if v4, _ := s.Records().defaults(); v4.String() != "127.0.0.1" {
		t.Errorf("a rejected /set-default-ipv4 changed the default to %s", v4)
	}
}
