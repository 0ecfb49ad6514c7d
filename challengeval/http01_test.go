package challengeval

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

const challengePath = "/.well-known/acme-challenge/"

// challengeMux serves one behaviour per token.
func challengeMux(t *testing.T) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	text := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, body) }
	}
	redirect := func(code int, loc string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if loc != "" {
				w.Header().Set("Location", loc)
			}
			w.WriteHeader(code)
		}
	}
	mux.HandleFunc(challengePath+testToken, text(testKeyAuthz+"\r\n \t"))
	mux.HandleFunc(challengePath+"wrong", text("not-the-key-authorization"))
	mux.HandleFunc(challengePath+"long", text(strings.Repeat("a", 200)))
	mux.HandleFunc(challengePath+"exactly128", text(strings.Repeat("b", 128)))
	mux.HandleFunc(challengePath+"headers", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != userAgent || r.Header.Get("Accept") != "*/*" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprint(w, r.Host) // the test compares this with the key authorization
	})
	mux.HandleFunc(challengePath+"redir-good", redirect(302, "http://b.test"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-relative", redirect(307, challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-https", redirect(301, "https://b.test"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-ip", redirect(308, "http://127.0.0.1:80"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-upper", redirect(302, "http://B.TEST"+challengePath+"notfound"))
	mux.HandleFunc(challengePath+"redir-port", redirect(302, "http://b.test:8080"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-scheme", redirect(302, "ftp://b.test"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-303", redirect(303, "http://b.test"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-noloc", redirect(302, ""))
	mux.HandleFunc(challengePath+"redir-slash", redirect(301, "http://b.test.well-known/acme-challenge/"+testToken))
	mux.HandleFunc(challengePath+"redir-tld", redirect(301, "http://b.notatld"+challengePath+testToken))
	mux.HandleFunc(challengePath+"redir-icann", redirect(301, "http://b.nx.example.com/"))
	mux.HandleFunc(challengePath+"redir-long", redirect(301, "http://b.test/"+strings.Repeat("p", maxPathSize)))
	mux.HandleFunc(challengePath+"redir-empty-host", redirect(301, "http:///nohost"))
	mux.HandleFunc(challengePath+"redir-zone", redirect(301, "http://[fe80::1%25eth0]/"))
	mux.HandleFunc(challengePath+"loop", redirect(302, challengePath+"loop"))
	mux.HandleFunc(challengePath+"many/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		w.Header().Set("Location", fmt.Sprintf("%smany/%d", challengePath, n+1))
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc(challengePath+"ten/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == maxRedirects {
			_, _ = fmt.Fprint(w, testKeyAuthz)
			return
		}
		w.Header().Set("Location", fmt.Sprintf("%sten/%d", challengePath, n+1))
		w.WriteHeader(http.StatusFound)
	})
	return mux
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// http01Fixture serves challengeMux over HTTP and HTTPS on 127.0.0.1 and
// returns a Validator that reaches every *.test name there: port 80 and the
// first request go to the HTTP server, port 443 to the HTTPS one.
func http01Fixture(t *testing.T) *Validator {
	t.Helper()
	mux := challengeMux(t)
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(mux)
	t.Cleanup(secure.Close)
	p := port(t, plain.Listener.Addr().String())
	return newValidator(t, Config{SkipCAA: true,
		HTTP01Port:      p,
		Resolvers:       []string{startDNS(t, newZone(t))},
		HostOverrides:   []HostOverride{{Pattern: "*.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		RedirectPortMap: map[int]int{80: p, 443: port(t, secure.Listener.Addr().String())},
	})
}

// http01Request asks for token at host (a.test when empty; an IP literal
// makes an IP identifier).
func http01Request(host, token, keyAuthz string) Request {
	id := acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}
	if host != "" {
		id.Value = host
		if _, err := netip.ParseAddr(host); err == nil {
			id.Type = acme.TypeIP
		}
	}
	if keyAuthz == "" {
		keyAuthz = testKeyAuthz
	}
	return Request{Type: acme.ChallengeHTTP01, Identifier: id, Token: token, KeyAuthorization: keyAuthz}
}

func TestHTTP01Valid(t *testing.T) {
	v := http01Fixture(t)
	tests := []struct {
		name, host, token string
		keyAuthz          string // default testKeyAuthz
	}{
		{name: "trailing whitespace trimmed", token: testToken},
		{name: "Host, User-Agent and Accept headers", token: "headers", keyAuthz: "a.test"},
		{name: "IP identifier Host header", host: "127.0.0.1", token: "headers", keyAuthz: "127.0.0.1"},
		{name: "10 redirects are followed", token: "ten/0"},
		{name: "redirect to another host", token: "redir-good"},
		{name: "relative redirect", token: "redir-relative"},
		{name: "redirect to https", token: "redir-https"},
		{name: "redirect to a loopback IP", token: "redir-ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, validate(t, v, http01Request(tt.host, tt.token, tt.keyAuthz)), "", "")
		})
	}
}

// TestHTTP01Concurrent runs attempts in parallel on one Validator; with
// -race it checks that Validate is safe for concurrent use.
func TestHTTP01Concurrent(t *testing.T) {
	v := http01Fixture(t)
	errs := make(chan error, 16)
	for i := range cap(errs) {
		token := []string{testToken, "redir-good", "redir-https", "wrong"}[i%4]
		go func() { errs <- v.Validate(t.Context(), http01Request("", token, "")) }()
	}
	failed := 0
	for range cap(errs) {
		if err := <-errs; err != nil {
			failed++
			if !strings.Contains(err.Error(), "did not match") {
				t.Errorf("unexpected error: %v", err)
			}
		}
	}
	if failed != cap(errs)/4 {
		t.Errorf("%d attempts failed, want %d (the wrong-body ones)", failed, cap(errs)/4)
	}
}

// TestHTTP01Golden asserts Boulder's exact problem for each HTTP-level
// failure (reference/letsencrypt.md §7.1).
func TestHTTP01Golden(t *testing.T) {
	v := http01Fixture(t)
	const (
		ip   = "127.0.0.1: "
		base = "http://a.test" + challengePath
	)
	tests := []struct {
		name, host, token string
		wantType          acme.ErrorType
		wantDetail        string
	}{
		{name: "404", token: "notfound", wantType: acme.Unauthorized,
			wantDetail: ip + "Invalid response from " + base + "notfound: 404"},
		{name: "404 after redirect names the last URL", token: "redir-upper", wantType: acme.Unauthorized,
			wantDetail: ip + "Invalid response from http://b.test" + challengePath + "notfound: 404"},
		{name: "wrong content", token: "wrong", wantType: acme.Unauthorized,
			wantDetail: `The key authorization file from the server did not match this challenge. Expected "` + testKeyAuthz + `" (got "not-the-key-authorization")`},
		{name: "body of 200 bytes", token: "long", wantType: acme.Unauthorized,
			wantDetail: ip + "Invalid response from " + base + `long: "` + strings.Repeat("a", 128) + `"`},
		{name: "body of 128 bytes", token: "exactly128", wantType: acme.Unauthorized,
			wantDetail: ip + "Invalid response from " + base + `exactly128: "` + strings.Repeat("b", 128) + `"`},
		{name: "redirect to port 8080", token: "redir-port", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://b.test:8080" + challengePath + testToken + ": Invalid port in redirect target. Only ports 80 and 443 are supported, not 8080"},
		{name: "redirect to ftp", token: "redir-scheme", wantType: acme.Connection,
			wantDetail: ip + "Fetching ftp://b.test" + challengePath + testToken + `: Invalid protocol scheme in redirect target. Only "http" and "https" protocol schemes are supported, not "ftp"`},
		{name: "303 redirect", token: "redir-303", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://b.test" + challengePath + testToken + ": received disallowed redirect status code"},
		{name: "too many redirects", token: "many/0", wantType: acme.Connection,
			wantDetail: ip + "Fetching " + base + "many/11: Too many redirects"},
		{name: "redirect loop", token: "loop", wantType: acme.Connection,
			wantDetail: ip + "Fetching " + base + "loop: Redirect loop detected"},
		{name: "redirect without Location", token: "redir-noloc", wantType: acme.Connection,
			wantDetail: ip + "Fetching " + base + "redir-noloc: Invalid Location header in 302 redirect"},
		{name: "redirect missing slash", token: "redir-slash", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://b.test.well-known/acme-challenge/" + testToken + `: Invalid host in redirect target "b.test.well-known". Check webserver config for missing '/' in redirect target.`},
		{name: "redirect to a non-IANA TLD", token: "redir-tld", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://b.notatld" + challengePath + testToken + ": Invalid host in redirect target, must end in IANA registered TLD"},
		{name: "redirect to an empty host", token: "redir-empty-host", wantType: acme.Connection,
			wantDetail: ip + "Fetching http:///nohost: Invalid empty host in redirect target"},
		{name: "redirect to an IPv6 address with a zone", token: "redir-zone", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://[fe80::1%25eth0]/: Invalid host in redirect target: contains scope zone"},
		{name: "redirect path too long", token: "redir-long", wantType: acme.Connection,
			wantDetail: ip + "Fetching http://b.test/" + strings.Repeat("p", maxPathSize) + ": Redirect target too long"},
		{name: "redirect to a name that does not resolve", token: "redir-icann", wantType: acme.DNS,
			wantDetail: ip + "Fetching http://b.nx.example.com/: DNS problem: NXDOMAIN looking up A for b.nx.example.com - check that a DNS record exists for this domain; " +
				"DNS problem: NXDOMAIN looking up AAAA for b.nx.example.com - check that a DNS record exists for this domain"},
		{name: "name does not resolve", host: "nx.example.com", token: testToken, wantType: acme.DNS,
			wantDetail: "DNS problem: NXDOMAIN looking up A for nx.example.com - check that a DNS record exists for this domain; " +
				"DNS problem: NXDOMAIN looking up AAAA for nx.example.com - check that a DNS record exists for this domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, validate(t, v, http01Request(tt.host, tt.token, "")), tt.wantType, tt.wantDetail)
		})
	}
}

// TestHTTP01Network covers failures below HTTP, each against its own
// misbehaving peer.
func TestHTTP01Network(t *testing.T) {
	url := "http://a.test" + challengePath + testToken
	tests := []struct {
		name       string
		peer       func(t *testing.T) int // returns the port to validate against
		timeout    time.Duration
		wantType   acme.ErrorType
		wantDetail string
	}{
		{
			name:       "connection refused",
			peer:       closedPort,
			wantType:   acme.Connection,
			wantDetail: "127.0.0.1: Fetching " + url + ": Connection refused",
		},
		{
			name: "server never answers",
			peer: func(t *testing.T) int {
				return port(t, hangingListener(t, "tcp", "127.0.0.1:0").Addr().String())
			},
			timeout:    300 * time.Millisecond,
			wantType:   acme.Connection,
			wantDetail: "127.0.0.1: Fetching " + url + ": Timeout after connect (your server may be slow or overloaded)",
		},
		{
			name: "connection reset",
			peer: func(t *testing.T) int {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				serveRaw(t, l, func(c net.Conn) {
					_, _ = c.Read(make([]byte, 4096)) // the request
					_ = c.(*net.TCPConn).SetLinger(0)
					_ = c.Close() // RST
				})
				return port(t, l.Addr().String())
			},
			wantType:   acme.Connection,
			wantDetail: "127.0.0.1: Fetching " + url + ": Connection reset by peer",
		},
		{
			name: "HTTP/2 over HTTP",
			peer: func(t *testing.T) int {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				serveRaw(t, l, func(c net.Conn) {
					_, _ = c.Read(make([]byte, 4096))
					// An HTTP/2 SETTINGS frame with three settings.
					_, _ = c.Write([]byte("\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64\x00\x04\x00\x10\x00\x00\x00\x06\x00\x00\x40\x00"))
					_ = c.Close()
				})
				return port(t, l.Addr().String())
			},
			wantType:   acme.Connection,
			wantDetail: "127.0.0.1: Fetching " + url + ": Server is speaking HTTP/2 over HTTP",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newValidator(t, Config{SkipCAA: true,
				HTTP01Port:    tt.peer(t),
				Resolvers:     []string{"127.0.0.1:1"},
				HTTPTimeout:   tt.timeout,
				HostOverrides: []HostOverride{{Pattern: "a.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
			})
			err := validate(t, v, Request{Type: acme.ChallengeHTTP01, Token: testToken, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}

// TestHTTP01IPv6 checks Boulder's address choice: the first IPv6 address,
// then once the first IPv4 address after a connect failure.
func TestHTTP01IPv6(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback")
	}
	mux := challengeMux(t)
	v4 := httptest.NewServer(mux) // 127.0.0.1 only: [::1] on its port refuses
	t.Cleanup(v4.Close)
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	v6 := &httptest.Server{Listener: l6, Config: &http.Server{Handler: mux}}
	v6.Start()
	t.Cleanup(v6.Close)
	loop4, loop6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		name       string
		port       int
		id         acme.Identifier
		addrs      []netip.Addr
		keyAuthz   string
		token      string
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "IPv6 preferred", port: port(t, l6.Addr().String()), addrs: []netip.Addr{loop4, loop6}},
		{name: "falls back to IPv4", port: port(t, v4.Listener.Addr().String()), addrs: []netip.Addr{loop6, loop4}},
		{name: "IPv6 only, refused", port: port(t, v4.Listener.Addr().String()), addrs: []netip.Addr{loop6},
			wantType: acme.Connection, wantDetail: "::1: Fetching http://a.test" + challengePath + testToken + ": Connection refused"},
		{name: "IPv6 identifier", port: port(t, l6.Addr().String()), id: acme.Identifier{Type: acme.TypeIP, Value: "::1"},
			token: "headers", keyAuthz: "[::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{SkipCAA: true, HTTP01Port: tt.port, Resolvers: []string{"127.0.0.1:1"}}
			if len(tt.addrs) > 0 {
				cfg.HostOverrides = []HostOverride{{Pattern: "a.test", Addrs: tt.addrs}}
			}
			v := newValidator(t, cfg)
			req := Request{Type: acme.ChallengeHTTP01, Token: testToken, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}}
			if tt.id.Value != "" {
				req.Identifier, req.Token, req.KeyAuthorization = tt.id, tt.token, tt.keyAuthz
			}
			checkProblem(t, validate(t, v, req), tt.wantType, tt.wantDetail)
		})
	}
}

func TestHTTP01RedirectToOldTLS(t *testing.T) {
	mux := challengeMux(t)
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	old := httptest.NewUnstartedServer(mux)
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	t.Cleanup(old.Close)
	p := port(t, plain.Listener.Addr().String())
	v := newValidator(t, Config{SkipCAA: true,
		HTTP01Port:      p,
		Resolvers:       []string{"127.0.0.1:1"},
		HostOverrides:   []HostOverride{{Pattern: "*.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
		RedirectPortMap: map[int]int{80: p, 443: port(t, old.Listener.Addr().String())},
	})
	err := validate(t, v, Request{Type: acme.ChallengeHTTP01, Token: "redir-https", KeyAuthorization: testKeyAuthz,
		Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
	checkProblem(t, err, acme.Connection, "127.0.0.1: Fetching https://b.test"+challengePath+testToken+": "+oldTLSDetail)
}
