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
	// Clock dates TSIG signatures (and checks their time window) and the
	// TLS-ALPN-01 certificates. Required.
	Clock clock.PassiveClock
	// Logger receives one line per UPDATE and management request, TSIG
	// failures and listener errors; never a secret. Nil means discard.
	Logger *slog.Logger
}

// Server is fakeca's built-in DNS server with its HTTP-01, TLS-ALPN-01 and
// management listeners. Build it with New, bind with Start, stop with
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
	mgmt    http.Handler

	mu      sync.Mutex // guards the fields below
	started bool
	dns     []*dns.Server
	https   []*http.Server
	addrs   map[string]string // bound address by listener name
	wg      sync.WaitGroup
}

// Listener names for Server.ListenerAddr.
const (
	ListenerDNS        = "dns"
	ListenerHTTP01     = "http01"
	ListenerTLSALPN01  = "tlsalpn01"
	ListenerManagement = "challtestsrv"
)

// New validates cfg and builds a Server; it binds nothing and starts no
// goroutine.
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
	apexes := []string{BuiltinZone}
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
	s := &Server{cfg: cfg, clock: deps.Clock, log: log, keys: keys, history: h, http01: newHTTP01(h), tlsalpn: alpn,
		records: newRecords(apexes, cfg.DefaultIPv4, cfg.DefaultIPv6), addrs: map[string]string{}}
	s.mgmt = s.newManagementHandler()
	return s, nil
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

// Addr is the bound DNS address (UDP and TCP share the port), "" before
// Start.
func (s *Server) Addr() string { return s.ListenerAddr(ListenerDNS) }

// ListenerAddr is the bound address of a listener (ListenerDNS, …), ""
// when it is off or not started.
func (s *Server) ListenerAddr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Start binds every configured listener and returns once the DNS server
// answers on both transports. ctx bounds only the start-up; the listeners
// run until Shutdown. On error nothing stays bound. A Server starts once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("dnsserver: already started")
	}
	s.started = true
	udp, tcp, err := listenDNS(s.cfg.Listen)
	if err != nil {
		return err
	}
	https, lns, err := s.httpListeners()
	if err != nil {
		_, _ = udp.Close(), tcp.Close()
		s.addrs = map[string]string{}
		return err
	}
	s.addrs[ListenerDNS] = tcp.Addr().String()
	if err := s.startDNS(ctx, udp, tcp); err != nil {
		closeListeners(lns)
		s.addrs, s.dns = map[string]string{}, nil
		return err
	}
	for i, hs := range https {
		ln := lns[i]
		s.wg.Go(func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("dnsserver: listener failed", "addr", ln.Addr().String(), "error", err)
			}
		})
	}
	s.https = https
	return nil
}

// startDNS serves UDP and TCP and waits until both are ready. Caller holds
// s.mu.
func (s *Server) startDNS(ctx context.Context, udp net.PacketConn, tcp net.Listener) error {
	ready := make(chan struct{}, 2)
	failed := make(chan error, 2)
	for _, srv := range []*dns.Server{{PacketConn: udp, UDPSize: dns.MaxMsgSize}, {Listener: tcp}} {
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
	for range 2 {
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

// httpListeners binds the optional HTTP listeners. Caller holds s.mu.
func (s *Server) httpListeners() ([]*http.Server, []net.Listener, error) {
	var https []*http.Server
	var lns []net.Listener
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	for _, l := range []struct {
		name, addr string
		handler    http.Handler
		tls        bool
	}{{ListenerHTTP01, s.cfg.HTTP01Listen, s.http01, false},
		{ListenerTLSALPN01, s.cfg.TLSALPN01Listen, http.NotFoundHandler(), true},
		{ListenerManagement, s.cfg.ManagementListen, s.mgmt, false}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeListeners(lns)
			return nil, nil, fmt.Errorf("dnsserver: listen %s %s: %w", l.name, l.addr, err)
		}
		s.addrs[l.name] = ln.Addr().String()
		hs := &http.Server{Handler: l.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
		if l.name != ListenerManagement {
			hs.SetKeepAlivesEnabled(false) // as pebble-challtestsrv
		}
		if l.tls {
			ln = tls.NewListener(ln, s.tlsalpn.TLSConfig())
		}
		https, lns = append(https, hs), append(lns, ln)
	}
	return https, lns, nil
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

// listenDNS binds UDP and TCP on the same address; with port 0 it retries
// until one free port works for both.
func listenDNS(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnsserver: listen %s: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		tcp, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dnsserver: listen tcp %s: %w", addr, err)
		}
		bound := net.JoinHostPort(host, strconv.Itoa(tcp.Addr().(*net.TCPAddr).Port))
		udp, err := net.ListenPacket("udp", bound)
		if err == nil {
			return udp, tcp, nil
		}
		_ = tcp.Close()
		if port != "0" || attempt == 9 {
			return nil, nil, fmt.Errorf("dnsserver: listen udp %s: %w", bound, err)
		}
	}
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}
