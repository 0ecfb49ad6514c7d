package instance_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
)

// TestDNSE2EChalltestsrvAPI is challtestsrv compatibility: a client that
// provisions challenges only through HTTP calls to the
// pebble-challtestsrv-compatible API (reference pebble.md §2.3) of the CA's
// DNS server issues one certificate per challenge type, withdraws the
// responses, reads the CA's requests from the request history, and sees
// /set-servfail, /add-caa and /set-default-ipv4 change the outcome.
func TestDNSE2EChalltestsrvAPI(t *testing.T) {
	t.Parallel()
	inst := dnsE2EStartChalltestsrv(t)
	api := dnsE2EAPI{base: "http://" + inst.DNS().ListenerAddr(dnsserver.ListenerManagement)}
	solvers := dnsE2ESolvers(inst, api)
	run := func(t *testing.T, tests []dnsE2EAPICase) {
		t.Helper()
		var subs []e2eSubtest
		for _, tt := range tests {
			subs = append(subs, e2eSubtest{tt.name, func(t *testing.T) { dnsE2ERunAPICase(t, inst, api, solvers[tt.typ], tt) }})
		}
		e2eRunConcurrently(t, subs)
	}
	t.Run("concurrent", func(t *testing.T) {
		run(t, []dnsE2EAPICase{
			{name: "http-01", typ: e2eHTTP01, host: "http.chall.test"},
			{name: "dns-01", typ: e2eDNS01, host: "dns.chall.test"},
			{name: "tls-alpn-01", typ: dnsE2ETLSALPN01, host: "alpn.chall.test"},
			{name: "set-servfail", typ: e2eDNS01, host: "servfail.chall.test",
				setup:    []dnsE2ECall{{"/set-servfail", map[string]any{"host": "_acme-challenge.servfail.chall.test"}}},
				wantType: dnsE2EDNSProblem,
				wantDetail: "DNS problem: SERVFAIL looking up TXT for _acme-challenge.servfail.chall.test" +
					" - the domain's nameservers may be malfunctioning"},
			{name: "add-caa for another CA", typ: e2eDNS01, host: "caa.chall.test",
				setup: []dnsE2ECall{{"/add-caa", map[string]any{"host": "caa.chall.test",
					"policies": []map[string]string{{"tag": "issue", "value": "other-ca.example"}}}}},
				wantType:   dnsE2ECAAProblem,
				wantDetail: "While processing CAA for caa.chall.test: CAA record for caa.chall.test prevents issuance"},
		})
	})
	// Moving the default A answer breaks every http-01 and tls-alpn-01
	// validation, so it runs alone, last.
	t.Run("set-default-ipv4", func(t *testing.T) {
		const name, moved = "moved.chall.test", "127.0.0.2"
		if got := dnsE2EAnswers(t, inst.DNS().Addr(), name, dns.TypeA); !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Errorf("A %s before: %q, want the default [127.0.0.1]", name, got)
		}
		api.call(t, "/set-default-ipv4", map[string]any{"ip": moved})
		if got := dnsE2EAnswers(t, inst.DNS().Addr(), name, dns.TypeA); !slices.Equal(got, []string{moved}) {
			t.Errorf("A %s after /set-default-ipv4: %q, want [%s]", name, got, moved)
		}
		// Nothing listens on 127.0.0.2, so the CA's connection is refused.
		run(t, []dnsE2EAPICase{{name: "http-01 follows it", typ: e2eHTTP01, host: name, wantType: dnsE2EConnection,
			wantDetailf: "127.0.0.2: Fetching http://moved.chall.test/.well-known/acme-challenge/%s: Connection refused"}})
	})
}

// dnsE2EStartChalltestsrv starts a CA whose DNS server runs every
// listener of pebble-challtestsrv on loopback and validates http-01 and
// tls-alpn-01 against its responders. The validator's ports are fixed
// before the responders bind (instance.Config cannot take them from the
// DNS server), so they are picked free and the start retried once if one
// was taken in between.
func dnsE2EStartChalltestsrv(t *testing.T) *instance.Instance {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cfg := dnsE2EConfig()
		cfg.ManagementListen, cfg.HTTP01Listen, cfg.TLSALPN01Listen = "127.0.0.1:0", ldFreeAddr(t), ldFreeAddr(t)
		httpPort, alpnPort := dnsE2EPort(t, cfg.HTTP01Listen), dnsE2EPort(t, cfg.TLSALPN01Listen)
		inst, err := dnsE2EStart(t, cfg, challengeval.Config{HTTP01Port: httpPort, TLSALPN01Port: alpnPort})
		if errors.Is(err, syscall.EADDRINUSE) && attempt == 1 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]int{dnsserver.ListenerHTTP01: httpPort, dnsserver.ListenerTLSALPN01: alpnPort} {
			if got := dnsE2EPort(t, inst.DNS().ListenerAddr(name)); got != want {
				t.Fatalf("%s listener on port %d, want %d", name, got, want)
			}
		}
		return inst
	}
}

// dnsE2EAPICase is one order for one name, its challenge provisioned
// through the API.
type dnsE2EAPICase struct {
	name, typ, host string
	setup           []dnsE2ECall // API calls made before the order
	// wantType and wantDetail (or wantDetailf, filled with the token) are
	// the problem validation must fail with; "" means the certificate is
	// issued, then the response withdrawn and the history checked.
	wantType, wantDetail, wantDetailf string
}

// dnsE2ECall is one API call.
type dnsE2ECall struct {
	path string
	body any
}

// dnsE2ERunAPICase runs c with its challenge type's solver and its own
// account. (Cases share no HTTP client: one client used concurrently dials
// spare connections that never carry a request, and http.Server.Shutdown
// waits 5 s for such connections.)
func dnsE2ERunAPICase(t *testing.T, inst *instance.Instance, api dnsE2EAPI, s dnsE2ESolver, c dnsE2EAPICase) {
	for _, call := range c.setup {
		api.call(t, call.path, call.body)
	}
	ctx, ops := e2eContext(t), e2eXCryptoOps(t, inst)
	var token string
	present := func(t *testing.T, identifier, tok, value string) {
		token = tok
		s.add(t, identifier, tok, value)
	}
	if c.wantType != "" {
		o := dnsE2EAuthorize(ctx, t, ops, []string{c.host}, c.typ, present)
		detail := c.wantDetail
		if c.wantDetailf != "" {
			detail = fmt.Sprintf(c.wantDetailf, token)
		}
		dnsE2EWantInvalid(ctx, t, ops, o, c.wantType, detail)
		s.del(t, c.host, token)
		return
	}
	dnsE2EIssue(ctx, t, inst, ops, []string{c.host}, c.typ, present)
	s.del(t, c.host, token)
	s.gone(t, c.host, token)
	s.history(t, c.host, token)
}

// dnsE2ESolver provisions one challenge type through the API and checks
// what the responder saw.
type dnsE2ESolver struct {
	add       func(t *testing.T, host, token, value string)
	del, gone func(t *testing.T, host, token string) // gone: the withdrawn response is no longer served
	history   func(t *testing.T, host, token string) // wants the CA's requests in the history
}

// dnsE2EDNSEvent is a /dns-request-history entry with its question left
// generic, to check its JSON keys too.
type dnsE2EDNSEvent struct {
	Question  map[string]any
	UserAgent string
}

// dnsE2ESolvers are the solvers for http-01, dns-01 and tls-alpn-01 at
// inst's responders.
func dnsE2ESolvers(inst *instance.Instance, api dnsE2EAPI) map[string]dnsE2ESolver {
	srv := inst.DNS()
	return map[string]dnsE2ESolver{
		e2eHTTP01: {
			add: func(t *testing.T, _, token, value string) {
				api.call(t, "/add-http01", map[string]any{"token": token, "content": value})
			},
			del: func(t *testing.T, _, token string) { api.call(t, "/del-http01", map[string]any{"token": token}) },
			gone: func(t *testing.T, host, token string) {
				body := dnsE2EHTTP01Get(t, srv.ListenerAddr(dnsserver.ListenerHTTP01), host, token)
				if body != "" {
					t.Errorf("token %s after /del-http01: %q, want pebble-challtestsrv's empty 200", token, body)
				}
			},
			history: func(t *testing.T, host, token string) {
				var got []dnsserver.HTTPRequest
				api.history(t, "/http-request-history", host, &got, "URL", "Host", "HTTPS", "ServerName", "UserAgent")
				want := dnsserver.HTTPRequest{URL: "/.well-known/acme-challenge/" + token, Host: host}
				if !slices.ContainsFunc(got, func(e dnsserver.HTTPRequest) bool { e.UserAgent = ""; return e == want }) {
					t.Errorf("/http-request-history for %s: %+v, want the CA's request %+v", host, got, want)
				}
			},
		},
		e2eDNS01: {
			add: func(t *testing.T, host, _, value string) {
				api.call(t, "/set-txt", map[string]any{"host": "_acme-challenge." + host + ".", "value": value})
			},
			del: func(t *testing.T, host, _ string) {
				api.call(t, "/clear-txt", map[string]any{"host": "_acme-challenge." + host + "."})
			},
			gone: func(t *testing.T, host, _ string) {
				if got := dnsE2EAnswers(t, srv.Addr(), "_acme-challenge."+host, dns.TypeTXT); len(got) != 0 {
					t.Errorf("TXT at _acme-challenge.%s after /clear-txt: %q", host, got)
				}
			},
			history: func(t *testing.T, host, _ string) {
				var got []dnsE2EDNSEvent
				name := "_acme-challenge." + host
				api.history(t, "/dns-request-history", name, &got, "Question", "UserAgent")
				want := map[string]any{"Name": name + ".", "Qtype": float64(dns.TypeTXT), "Qclass": float64(dns.ClassINET)}
				if !slices.ContainsFunc(got, func(e dnsE2EDNSEvent) bool { return maps.Equal(e.Question, want) }) {
					t.Errorf("/dns-request-history for %s: %+v, want the CA's question %v", name, got, want)
				}
			},
		},
		dnsE2ETLSALPN01: {
			add: func(t *testing.T, host, _, value string) {
				api.call(t, "/add-tlsalpn01", map[string]any{"host": host, "content": value})
			},
			del: func(t *testing.T, host, _ string) { api.call(t, "/del-tlsalpn01", map[string]any{"host": host}) },
			gone: func(t *testing.T, host, _ string) {
				d := &tls.Dialer{Config: &tls.Config{ServerName: host, NextProtos: []string{"acme-tls/1"},
					InsecureSkipVerify: true}} //nolint:gosec // the challenge certificate is self-signed
				if conn, err := d.DialContext(t.Context(), "tcp", srv.ListenerAddr(dnsserver.ListenerTLSALPN01)); err == nil {
					_ = conn.Close()
					t.Errorf("TLS-ALPN-01 handshake for %s succeeded after /del-tlsalpn01", host)
				}
			},
			history: func(t *testing.T, host, _ string) {
				var got []dnsserver.TLSALPNRequest
				api.history(t, "/tlsalpn01-request-history", host, &got, "ServerName", "SupportedProtos")
				if !slices.ContainsFunc(got, func(e dnsserver.TLSALPNRequest) bool {
					return e.ServerName == host && slices.Equal(e.SupportedProtos, []string{"acme-tls/1"})
				}) {
					t.Errorf("/tlsalpn01-request-history for %s: %+v, want the CA's handshake", host, got)
				}
			},
		},
	}
}

// dnsE2EHTTP01Get fetches token from the HTTP-01 responder at addr as host
// and returns the body of its 200 answer.
func dnsE2EHTTP01Get(t *testing.T, addr, host, token string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/.well-known/acme-challenge/"+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET token %s: %s, %v", token, resp.Status, err)
	}
	return string(body)
}

// dnsE2EAPI is a client of the pebble-challtestsrv-compatible API.
type dnsE2EAPI struct{ base string }

// call POSTs body as JSON to path and wants a 200; it returns the answer.
func (a dnsE2EAPI) call(t *testing.T, path string, body any) []byte {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s %s: %s %q, %v", path, b, resp.Status, out, err)
	}
	return out
}

// history reads a request-history endpoint for host into out, after
// checking that every entry has exactly the JSON keys keys.
func (a dnsE2EAPI) history(t *testing.T, path, host string, out any, keys ...string) {
	t.Helper()
	body := a.call(t, path, map[string]any{"host": host})
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(body, &entries); err != nil {
		t.Fatalf("%s: %v in %s", path, err, body)
	}
	slices.Sort(keys)
	for _, e := range entries {
		if got := slices.Sorted(maps.Keys(e)); !slices.Equal(got, keys) {
			t.Errorf("%s entry has keys %v, want %v", path, got, keys)
		}
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
