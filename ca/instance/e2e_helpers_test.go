package instance_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
)

// TestE2E drives fakeca with three independent ACME clients —
// golang.org/x/crypto/acme, lego v5 and cert-manager's fork of x/crypto/acme —
// over HTTPS on loopback. One environment is shared: a validating CA, an
// always-valid CA, an http-01 responder and an authoritative DNS server.
// Every flow uses its own account and its own names, so flows run
// concurrently.
func TestE2E(t *testing.T) {
	env := newE2EEnv(t)
	e2eRunConcurrently(t, []e2eSubtest{
		{"xcrypto", func(t *testing.T) { e2eXCrypto(t, env) }},
		{"lego", func(t *testing.T) { e2eLego(t, env) }},
		{"certmanager", func(t *testing.T) { e2eCertManager(t, env) }},
	})
}

// e2eTimeout bounds one flow; a healthy flow takes a few seconds.
const e2eTimeout = 60 * time.Second

// Challenge types and the problem types the tests expect.
const (
	e2eHTTP01          = "http-01"
	e2eDNS01           = "dns-01"
	e2eAlreadyRevoked  = "urn:ietf:params:acme:error:alreadyRevoked"
	e2eAlreadyReplaced = "urn:ietf:params:acme:error:alreadyReplaced"
	e2eBadCSR          = "urn:ietf:params:acme:error:badCSR"
)

// e2eEnv is what every flow shares. Safe for concurrent use.
type e2eEnv struct {
	ca     *instance.Instance // validates http-01 and dns-01 for real
	always *instance.Instance // Validation.AlwaysValid
	web    *e2eHTTP01Server
	dns    *e2eDNSServer
}

// newE2EEnv starts the responders and the two CAs; everything stops at the
// end of t.
func newE2EEnv(t *testing.T) *e2eEnv {
	t.Helper()
	env := &e2eEnv{web: e2eStartHTTP01(t), dns: e2eStartDNS(t)}
	override, err := challengeval.ParseHostOverride("*.test=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	env.ca = startCA(t, challengeval.Config{HTTP01Port: env.web.port, Resolvers: []string{env.dns.addr},
		HostOverrides: []challengeval.HostOverride{override}, LookupTimeout: 5 * time.Second, HTTPTimeout: 5 * time.Second})
	env.always = startCA(t, challengeval.Config{AlwaysValid: true, Resolvers: []string{"127.0.0.1:1"}})
	return env
}

// caFor is the CA a case runs against.
func (e *e2eEnv) caFor(c e2eCase) *instance.Instance {
	if c.always {
		return e.always
	}
	return e.ca
}

// present publishes a key authorization for an http-01 or dns-01
// challenge of identifier and returns the function that withdraws it.
// value is the http-01 body or the dns-01 TXT value.
func (e *e2eEnv) present(t *testing.T, typ, identifier, token, value string) func() {
	t.Helper()
	switch typ {
	case e2eHTTP01:
		e.web.set(token, value)
		return func() { e.web.del(token) }
	case e2eDNS01:
		name := "_acme-challenge." + identifier
		e.dns.add(name, value)
		return func() { e.dns.remove(name, value) }
	}
	t.Fatalf("cannot present a %s challenge", typ)
	return nil
}

// e2eContext is a flow's context: canceled at the end of t or after
// e2eTimeout.
func e2eContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), e2eTimeout)
	t.Cleanup(cancel)
	return ctx
}

// e2eSubtest is one named subtest body.
type e2eSubtest struct {
	name string
	fn   func(*testing.T)
}

// e2eRunConcurrently runs each subtest in its own goroutine and waits for all
// of them. Flows spend most of their time waiting for the CA (order
// Retry-After is 3 s, lego backs off 5 s), so they must not be throttled by
// -parallel, which defaults to GOMAXPROCS; t.Run from several goroutines is
// allowed and does not count against that limit.
func e2eRunConcurrently(t *testing.T, subtests []e2eSubtest) {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range subtests {
		wg.Go(func() { t.Run(s.name, s.fn) })
	}
	wg.Wait()
}

// e2eCase is one issuance scenario, run by every client.
type e2eCase struct {
	name      string
	names     []string // DNS names and IP literals, in the order the client sends them
	challenge string   // e2eHTTP01 or e2eDNS01, used for every authorization
	profile   string   // requested profile; "" is the CA's default (classic)
	rsa       bool     // RSA-2048 leaf key, else ECDSA P-256
	always    bool     // against the always-valid CA, presenting nothing
	byKey     bool     // revoke with the certificate's key rather than the account
	openssl   bool     // also verify the chain with openssl
}

// e2eCases is the scenario table for one client; client makes the names
// unique. byKey makes the RSA case revoke with the certificate key.
func e2eCases(client string, byKey bool) []e2eCase {
	d := func(label string) string { return label + "." + client + ".test" }
	return []e2eCase{
		{name: "http-01/ECDSA", names: []string{d("web")}, challenge: e2eHTTP01, openssl: true},
		{name: "dns-01/RSA", names: []string{d("dns")}, challenge: e2eDNS01, rsa: true, byKey: byKey, openssl: true},
		{name: "wildcard/dns-01", names: []string{"*." + d("wild"), d("wild")}, challenge: e2eDNS01},
		{name: "ip/shortlived", names: []string{"127.0.0.1"}, challenge: e2eHTTP01, profile: "shortlived"},
		{name: "always-valid", names: []string{d("av"), "*." + d("av")}, challenge: e2eDNS01, always: true},
	}
}

// e2eHTTP01Server answers /.well-known/acme-challenge/<token> from a map.
type e2eHTTP01Server struct {
	port int

	mu       sync.Mutex
	keyAuthz map[string]string // token → key authorization
}

func e2eStartHTTP01(t *testing.T) *e2eHTTP01Server {
	t.Helper()
	h := &e2eHTTP01Server{keyAuthz: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if h.port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *e2eHTTP01Server) serve(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
	h.mu.Lock()
	ka, found := h.keyAuthz[token]
	h.mu.Unlock()
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	_, _ = io.WriteString(w, ka)
}

func (h *e2eHTTP01Server) set(token, keyAuth string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keyAuthz[token] = keyAuth
}

func (h *e2eHTTP01Server) del(token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.keyAuthz, token)
}

// e2eDNSServer is a tiny authoritative DNS server on UDP and TCP: TXT answers
// come from a map; every other question gets an empty NOERROR answer. An
// answer with more than one record is truncated over UDP, so resolvers must
// retry it over TCP; tcpMulti counts those TCP answers.
type e2eDNSServer struct {
	addr     string
	tcpMulti atomic.Int64

	mu  sync.Mutex
	txt map[string][]string // lower-case FQDN → TXT values
}

func e2eStartDNS(t *testing.T) *e2eDNSServer {
	t.Helper()
	d := &e2eDNSServer{txt: map[string][]string{}}
	pc, ln := e2eListenUDPTCP(t)
	d.addr = pc.LocalAddr().String()
	servers := []*dns.Server{{PacketConn: pc, Handler: d}, {Listener: ln, Handler: d}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
		wg.Wait()
	})
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		wg.Go(func() { errc <- s.ActivateAndServe() })
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("DNS server on %s: %v", d.addr, err)
		}
	}
	return d
}

// e2eListenUDPTCP binds UDP and TCP on the same loopback port.
func e2eListenUDPTCP(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", pc.LocalAddr().(*net.UDPAddr).Port))
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

func (d *e2eDNSServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	for _, q := range r.Question {
		if q.Qtype != dns.TypeTXT {
			continue
		}
		for _, v := range d.values(q.Name) {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{v}})
		}
	}
	if len(m.Answer) > 1 {
		if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
			m.Answer, m.Truncated = nil, true
		} else {
			d.tcpMulti.Add(1)
		}
	}
	_ = w.WriteMsg(m)
}

func e2eDNSKey(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func (d *e2eDNSServer) values(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.txt[e2eDNSKey(name)]...)
}

func (d *e2eDNSServer) add(name, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[e2eDNSKey(name)] = append(d.txt[e2eDNSKey(name)], value)
}

func (d *e2eDNSServer) remove(name, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	vs := d.txt[e2eDNSKey(name)]
	for i, v := range vs {
		if v == value {
			d.txt[e2eDNSKey(name)] = append(vs[:i:i], vs[i+1:]...)
			return
		}
	}
}
