package dnsserver

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// testKeyPair is a fresh self-signed certificate and its key.
func testKeyPair(t *testing.T) *tls.Certificate {
	t.Helper()
	cfg, err := newHTTPS01TLS(clock.RealClock{}.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Certificates[0]
}

// insecureClient is an HTTPS client that trusts any certificate and sends
// serverName as SNI.
func insecureClient(serverName string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: serverName}}, // #nosec G402 -- self-signed test server
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestHTTPS01(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.HTTP01Listen, c.HTTPS01Listen = "127.0.0.1:0", "127.0.0.1:0" })
	s.HTTP01().Add("tok", "tok.thumb")
	s.HTTP01().AddRedirect("/moved", "http://elsewhere.test/")
	https, plain := s.ListenerAddr(ListenerHTTPS01), s.ListenerAddr(ListenerHTTP01)
	tests := []struct {
		name, url, want string // the body, or the Location of a redirect
		wantStatus      int
	}{
		{name: "token over HTTPS", url: "https://" + https + "/.well-known/acme-challenge/tok", wantStatus: 200, want: "tok.thumb"},
		{name: "no redirect over HTTPS", url: "https://" + https + "/moved", wantStatus: 200},
		{name: "redirect over HTTP", url: "http://" + plain + "/moved", wantStatus: http.StatusFound, want: "http://elsewhere.test/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
			req.Host = "www.example.test"
			resp, err := insecureClient("www.example.test").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			got := string(body)
			if resp.StatusCode == http.StatusFound {
				got = resp.Header.Get("Location")
			}
			if resp.StatusCode != tt.wantStatus || got != tt.want {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.want)
			}
			if strings.HasPrefix(tt.url, "https") && len(resp.TLS.PeerCertificates) != 1 {
				t.Errorf("certificate chain of %d, want one self-signed certificate", len(resp.TLS.PeerCertificates))
			}
		})
	}
	got := s.History().HTTP("www.example.test")
	want := []HTTPRequest{
		{URL: "/.well-known/acme-challenge/tok", Host: "www.example.test", HTTPS: true, ServerName: "www.example.test", UserAgent: "Go-http-client/1.1"},
		{URL: "/moved", Host: "www.example.test", HTTPS: true, ServerName: "www.example.test", UserAgent: "Go-http-client/1.1"},
		{URL: "/moved", Host: "www.example.test", UserAgent: "Go-http-client/1.1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("history:\n%+v\nwant\n%+v", got, want)
	}
}

// doh posts raw to the DoH listener and returns the status, Content-Type
// and body.
func doh(t *testing.T, s *Server, method string, raw []byte) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, "https://"+s.ListenerAddr(ListenerDoH)+"/dns-query", bytes.NewReader(raw))
	req.Header.Set("Content-Type", dohContentType)
	req.Header.Set("User-Agent", "doh-test/1")
	resp, err := insecureClient("").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func TestDoH(t *testing.T) {
	pair := testKeyPair(t)
	s, _ := testServer(t, func(c *Config) { c.DoHListen, c.DoHKeyPair = "127.0.0.1:0", pair })
	if err := s.Records().SetTXT("_acme-challenge.www.example.test", "digest"); err != nil {
		t.Fatal(err)
	}
	q := question("_acme-challenge.www.example.test.", dns.TypeTXT)
	raw, _ := q.Pack()
	status, ctype, body := doh(t, s, http.MethodPost, raw)
	if status != http.StatusOK || ctype != dohContentType {
		t.Fatalf("POST: %d %q %q", status, ctype, body)
	}
	got := new(dns.Msg)
	if err := got.Unpack(body); err != nil {
		t.Fatal(err)
	}
	udp := exchange(t, s.Addr(), "udp", q)
	if got.Id != q.Id || got.Rcode != udp.Rcode || !slices.Equal(texts(got.Answer), texts(udp.Answer)) ||
		!slices.Equal(texts(got.Answer), []string{`_acme-challenge.www.example.test. 0 IN TXT "digest"`}) {
		t.Errorf("DoH answer %v\nUDP answer %v", got, udp)
	}
	uas := []string{}
	for _, e := range s.History().DNS("_acme-challenge.www.example.test") {
		uas = append(uas, e.UserAgent)
	}
	if !slices.Equal(uas, []string{"doh-test/1", ""}) {
		t.Errorf("history user agents %q, want the DoH one then UDP's empty one", uas)
	}

	notimp := question("example.test.", dns.TypeSOA)
	notimp.Opcode = dns.OpcodeStatus
	rawNotimp, _ := notimp.Pack()
	tests := []struct {
		name, method string
		raw          []byte
		wantStatus   int
		wantRcode    int
	}{
		{name: "GET is refused", method: http.MethodGet, raw: nil, wantStatus: http.StatusMethodNotAllowed},
		{name: "PUT is refused", method: http.MethodPut, raw: raw, wantStatus: http.StatusMethodNotAllowed},
		{name: "short body", method: http.MethodPost, raw: []byte{1, 2, 3}, wantStatus: http.StatusBadRequest},
		{name: "a response", method: http.MethodPost, raw: func() []byte { r, _ := udp.Pack(); return r }(), wantStatus: http.StatusBadRequest},
		{name: "other opcode", method: http.MethodPost, raw: rawNotimp, wantStatus: http.StatusOK, wantRcode: dns.RcodeNotImplemented},
		{name: "truncated question", method: http.MethodPost, raw: raw[:14], wantStatus: http.StatusOK, wantRcode: dns.RcodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := doh(t, s, tt.method, tt.raw)
			if status != tt.wantStatus {
				t.Fatalf("status %d %q, want %d", status, body, tt.wantStatus)
			}
			if status != http.StatusOK {
				return
			}
			m := new(dns.Msg)
			if err := m.Unpack(body); err != nil || m.Rcode != tt.wantRcode || !m.Response {
				t.Errorf("reply %v (%v), want rcode %s", m, err, dns.RcodeToString[tt.wantRcode])
			}
		})
	}
}

func TestDoHSignedUpdate(t *testing.T) {
	pair := testKeyPair(t)
	s, clk := testServer(t, func(c *Config) {
		c.DoHListen, c.DoHKeyPair = "127.0.0.1:0", pair
		c.TSIG = []TSIGKey{{Name: "k.", Algorithm: "hmac-sha256", Secret: testSecret}}
	})
	m := new(dns.Msg).SetUpdate("example.test.")
	m.Insert([]dns.RR{mustRR(t, `doh.example.test. 60 IN TXT "v"`)})
	m.SetTsig("k.", dns.HmacSHA256, 300, clk.Now().Unix())
	raw, mac, err := dns.TsigGenerate(m, testSecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := doh(t, s, http.MethodPost, raw)
	if status != http.StatusOK {
		t.Fatalf("status %d %q", status, body)
	}
	if err := dns.TsigVerify(body, testSecret, mac, false); err != nil {
		t.Errorf("reply signature: %v", err)
	}
	if got := txtAt(t, s.Addr(), "doh.example.test."); !slices.Equal(got, []string{"v"}) {
		t.Errorf("TXT after the DoH update: %q", got)
	}
}

func TestSeveralAddresses(t *testing.T) {
	s, _ := testServer(t, func(c *Config) {
		c.Listen, c.HTTP01Listen = "127.0.0.1:0, 127.0.0.1:0", "127.0.0.1:0,,127.0.0.1:0"
	})
	dnsAddrs, httpAddrs := s.ListenerAddrs(ListenerDNS), s.ListenerAddrs(ListenerHTTP01)
	if len(dnsAddrs) != 2 || dnsAddrs[0] == dnsAddrs[1] || s.Addr() != dnsAddrs[0] {
		t.Fatalf("DNS addresses %q, Addr %q", dnsAddrs, s.Addr())
	}
	if len(httpAddrs) != 2 || s.ListenerAddr(ListenerHTTP01) != httpAddrs[0] {
		t.Fatalf("HTTP-01 addresses %q", httpAddrs)
	}
	for _, addr := range dnsAddrs {
		for _, network := range []string{"udp", "tcp"} {
			if r := exchange(t, addr, network, question("test.", dns.TypeSOA)); len(r.Answer) != 1 {
				t.Errorf("%s %s: SOA answer %v", network, addr, r.Answer)
			}
		}
	}
	s.HTTP01().Add("tok", "ka")
	for _, addr := range httpAddrs {
		resp, err := insecureClient("").Get("http://" + addr + "/.well-known/acme-challenge/tok")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != "ka" {
			t.Errorf("%s: %q", addr, body)
		}
	}
}

// TestDoHWithoutKeyPair: New refuses DoH when the caller did not load
// the certificate files.
func TestDoHWithoutKeyPair(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DoHListen, cfg.DoHCert, cfg.DoHKey = "127.0.0.1:0", "127.0.0.1:0", "cert.pem", "key.pem"
	_, err := New(cfg, Deps{Clock: clock.RealClock{}})
	if want := "dns.dohListen: no certificate loaded"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("New: %v, want %q", err, want)
	}
}
