package dnsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// Deps are the Server's collaborators.
type Deps struct {
	// Clock dates TSIG signatures (and checks their time window), the
	// TLS-ALPN-01 certificates and the HTTPS-01 certificate. Required.
	Clock clock.PassiveClock
	// Logger receives one line per UPDATE and management request, TSIG
	// failures and listener errors; never a secret. Nil means discard.
	Logger *slog.Logger
}

// Server is fakeca's built-in DNS server with its DNS-over-HTTPS,
// HTTP-01, HTTPS-01, TLS-ALPN-01 and management listeners. Build it with New, bind with Start, stop with
// Shutdown. Safe for concurrent use.
type Server struct {
	cfg     Config
	clock   clock.PassiveClock
	log     *slog.Logger
	records *Records
	keys    *keyring
	history *History
	http01  *HTTP01
	tlsalpn *TLSALPN01
	https01 *tls.Config // nil when Config.HTTPS01Listen is off
	doh     *tls.Config // nil when Config.DoHListen is off
	mgmt    http.Handler

	mu      sync.Mutex // guards the fields below
	started bool
	dns     []*dns.Server
	https   []*http.Server
	addrs   map[string][]string // bound addresses by listener name
	wg      sync.WaitGroup
}

// Listener names for Server.ListenerAddr.
const (
	ListenerDNS        = "dns"
	ListenerDoH        = "doh"
	ListenerHTTP01     = "http01"
	ListenerHTTPS01    = "https01"
	ListenerTLSALPN01  = "tlsalpn01"
	ListenerManagement = "challtestsrv"
)

// New validates cfg, generates the HTTPS-01 certificate when that listener
// is on, and builds a Server; it binds nothing and starts no goroutine.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		return nil, errors.New("dnsserver: Deps.Clock is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	keys, err := newKeyring(cfg.TSIG, deps.Clock)
	if err != nil {
		return nil, err
	}
	var apexes []string
	if !cfg.ChalltestsrvAnswers {
		apexes = append(apexes, BuiltinZone)
	}
	for _, z := range cfg.Zones {
		if z = canonical(z); !slices.Contains(apexes, z) {
			apexes = append(apexes, z)
		}
	}
	h := newHistory()
	alpn, err := newTLSALPN01(h, deps.Clock)
	if err != nil {
		return nil, err
	}
	https01, doh, err := newTLSConfigs(cfg, deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, clock: deps.Clock, log: log, keys: keys, history: h, http01: newHTTP01(h), tlsalpn: alpn,
		https01: https01, doh: doh, records: newRecords(apexes, cfg.DefaultIPv4, cfg.DefaultIPv6),
		addrs: map[string][]string{}}
	s.mgmt = s.newManagementHandler()
	return s, nil
}

// newTLSConfigs builds the TLS configurations of the HTTPS-01 and DoH
// listeners, nil for a listener that is off.
func newTLSConfigs(cfg Config, now time.Time) (https01, doh *tls.Config, err error) {
	if len(ListenAddrs(cfg.HTTPS01Listen)) > 0 {
		if https01, err = newHTTPS01TLS(now); err != nil {
			return nil, nil, err
		}
	}
	if len(ListenAddrs(cfg.DoHListen)) > 0 {
		if cfg.DoHKeyPair == nil {
			return nil, nil, fmt.Errorf("%s.dohListen: no certificate loaded (load %s.dohCert and %s.dohKey into DoHKeyPair)",
				configPath, configPath, configPath)
		}
		doh = &tls.Config{Certificates: []tls.Certificate{*cfg.DoHKeyPair}, MinVersion: tls.VersionTLS12}
	}
	return https01, doh, nil
}

// Records returns the DNS data; changes are visible to the next query.
func (s *Server) Records() *Records { return s.records }

// History returns the request history.
func (s *Server) History() *History { return s.history }

// HTTP01 returns the HTTP-01 responder (also usable as an http.Handler).
func (s *Server) HTTP01() *HTTP01 { return s.http01 }

// TLSALPN01 returns the TLS-ALPN-01 responder.
func (s *Server) TLSALPN01() *TLSALPN01 { return s.tlsalpn }

// ManagementHandler returns the pebble-challtestsrv-compatible API, also
// served on Config.ManagementListen when set.
func (s *Server) ManagementHandler() http.Handler { return s.mgmt }

// Zones returns the served zone apexes, canonical and sorted.
func (s *Server) Zones() []string { return s.records.Zones() }

// Addr is the first bound DNS address (UDP and TCP share the port), ""
// before Start.
func (s *Server) Addr() string { return s.ListenerAddr(ListenerDNS) }

// ListenerAddr is the first bound address of a listener (ListenerDNS, …),
// "" when it is off or not started.
func (s *Server) ListenerAddr(name string) string {
	if addrs := s.ListenerAddrs(name); len(addrs) > 0 {
		return addrs[0]
	}
	return ""
}

// ListenerAddrs is every bound address of a listener, in the configured
// order; nil when it is off or not started.
func (s *Server) ListenerAddrs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs[name])
}

// Start binds every configured listener (every address of each) and
// returns once the DNS server answers on both transports at each address.
// ctx bounds only the start-up; the listeners run until Shutdown. On error
// nothing stays bound. A Server starts once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("dnsserver: already started")
	}
	s.started = true
	socks, err := listenDNSAll(ListenAddrs(s.cfg.Listen))
	if err != nil {
		return err
	}
	servers, served, err := s.httpListeners()
	if err != nil {
		closeDNSSockets(socks)
		s.addrs = map[string][]string{}
		return err
	}
	for _, sk := range socks {
		s.addrs[ListenerDNS] = append(s.addrs[ListenerDNS], sk.tcp.Addr().String())
	}
	if err := s.startDNS(ctx, socks); err != nil {
		for _, l := range served {
			_ = l.ln.Close()
		}
		s.addrs, s.dns = map[string][]string{}, nil
		return err
	}
	s.https = servers
	for _, l := range served {
		s.wg.Go(func() {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("dnsserver: listener failed", "addr", l.ln.Addr().String(), "error", err)
			}
		})
	}
	return nil
}

// startDNS serves UDP and TCP on every socket pair and waits until all
// are ready. Caller holds s.mu.
func (s *Server) startDNS(ctx context.Context, socks []dnsSocket) error {
	n := 2 * len(socks)
	ready := make(chan struct{}, n)
	failed := make(chan error, n)
	for _, sk := range socks {
		for _, srv := range []*dns.Server{{PacketConn: sk.udp, UDPSize: dns.MaxMsgSize}, {Listener: sk.tcp}} {
			srv.Handler, srv.TsigProvider, srv.MsgAcceptFunc = s, s.keys, acceptMsg
			srv.NotifyStartedFunc = func() { ready <- struct{}{} }
			srv.MsgInvalidFunc = func(_ []byte, err error) { s.log.Debug("dnsserver: malformed DNS message", "error", err) }
			s.dns = append(s.dns, srv)
			s.wg.Go(func() {
				if err := srv.ActivateAndServe(); err != nil {
					failed <- err
					s.log.Error("dnsserver: DNS listener failed", "error", err)
				}
			})
		}
	}
	for range n {
		select {
		case <-ready:
		case err := <-failed:
			s.stopDNS(context.Background())
			return fmt.Errorf("dnsserver: serve DNS: %w", err)
		case <-ctx.Done():
			s.stopDNS(context.Background())
			return ctx.Err()
		}
	}
	return nil
}

// stopDNS shuts the DNS servers down, closing their sockets.
func (s *Server) stopDNS(ctx context.Context) []error {
	var errs []error
	for _, srv := range s.dns {
		if err := srv.ShutdownContext(ctx); err != nil {
			if srv.PacketConn != nil {
				_ = srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				_ = srv.Listener.Close()
			}
			errs = append(errs, err)
		}
	}
	return errs
}

// httpListener is one kind of HTTP listener: its http.Server serves every
// address of its Config field.
type httpListener struct {
	name, addrs string
	handler     http.Handler
	tls         *tls.Config // nil for plain HTTP
	keepAlives  bool        // pebble-challtestsrv turns them off for the responders
}

// boundListener is one bound address and the http.Server that will serve
// it.
type boundListener struct {
	srv *http.Server
	ln  net.Listener
}

// httpListeners binds every address of the optional HTTP listeners and
// returns their servers; on error it closes what it bound. Caller holds
// s.mu.
func (s *Server) httpListeners() ([]*http.Server, []boundListener, error) {
	var servers []*http.Server
	var bound []boundListener
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	for _, l := range []httpListener{{ListenerHTTP01, s.cfg.HTTP01Listen, s.http01, nil, false},
		{ListenerHTTPS01, s.cfg.HTTPS01Listen, s.http01, s.https01, false},
		{ListenerTLSALPN01, s.cfg.TLSALPN01Listen, http.NotFoundHandler(), s.tlsalpn.TLSConfig(), false},
		{ListenerDoH, s.cfg.DoHListen, http.HandlerFunc(s.serveDoH), s.doh, true},
		{ListenerManagement, s.cfg.ManagementListen, s.mgmt, nil, true}} {
		addrs := ListenAddrs(l.addrs)
		if len(addrs) == 0 {
			continue
		}
		hs := &http.Server{Handler: l.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		hs.SetKeepAlivesEnabled(l.keepAlives)
		for _, addr := range addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				for _, b := range bound {
					_ = b.ln.Close()
				}
				return nil, nil, fmt.Errorf("dnsserver: listen %s %s: %w", l.name, addr, err)
			}
			s.addrs[l.name] = append(s.addrs[l.name], ln.Addr().String())
			if l.tls != nil {
				ln = tls.NewListener(ln, l.tls)
			}
			bound = append(bound, boundListener{hs, ln})
		}
		servers = append(servers, hs)
	}
	return servers, bound, nil
}

// Shutdown stops every listener, lets requests in flight finish (until ctx
// ends) and waits for the server's goroutines. It is safe to call before
// Start or twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	errs := s.stopDNS(ctx)
	for _, hs := range s.https {
		errs = append(errs, hs.Shutdown(ctx))
	}
	s.dns, s.https = nil, nil
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// dnsSocket is one DNS address's UDP and TCP sockets (same port).
type dnsSocket struct {
	udp net.PacketConn
	tcp net.Listener
}

// listenDNSAll binds every DNS address; on error it closes what it bound.
func listenDNSAll(addrs []string) ([]dnsSocket, error) {
	var socks []dnsSocket
	for _, addr := range addrs {
		sk, err := listenDNS(addr)
		if err != nil {
			closeDNSSockets(socks)
			return nil, err
		}
		socks = append(socks, sk)
	}
	return socks, nil
}

// closeDNSSockets closes sockets that no dns.Server serves yet.
func closeDNSSockets(socks []dnsSocket) {
	for _, sk := range socks {
		_, _ = sk.udp.Close(), sk.tcp.Close()
	}
}

// listenDNS binds UDP and TCP on the same address; with port 0 it retries
// until one free port works for both.
func listenDNS(addr string) (dnsSocket, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return dnsSocket{}, fmt.Errorf("dnsserver: listen %s: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return dnsSocket{}, fmt.Errorf("dnsserver: listen tcp %s: %w", addr, err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port))
		udp, err := net.ListenPacket("udp", bound)
		if err == nil {
			return dnsSocket{udp: udp, tcp: tcp}, nil
		}
		_ = tcp.Close()
		if port != "0" || attempt == 9 {
			return dnsSocket{}, fmt.Errorf("dnsserver: listen udp %s: %w", bound, err)
		}
	}
}
