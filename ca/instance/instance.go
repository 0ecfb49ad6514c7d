// Package instance assembles a whole fakeca — hierarchy, store, validator
// and ACME server — and serves its three listeners. cmd/fakeca, the
// integration tests and (later) the scenario runner start CAs through it.
//
// In DESIGN.md's graph it sits just under cmd and scenarios:
// {cmd, scenarios} → ca/instance → {ca, ca/pki, store, challengeval}.
package instance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/bolt"
)

// Config describes one fakeca. Addresses may use port 0.
type Config struct {
	// Listen is the ACME HTTPS address. Default 127.0.0.1:14000.
	Listen string
	// MgmtListen is the management HTTPS address. Default 127.0.0.1:15000.
	MgmtListen string
	// HTTPListen is the plain-HTTP address for AIA (and later CRL/OCSP).
	// Default 127.0.0.1:14080.
	HTTPListen string
	// NoMgmtListener and NoHTTPListener open no management or plain-HTTP
	// listener (MgmtListen / HTTPListen are then ignored), for drop-in
	// modes that must bind only what their configuration names. Without
	// the HTTP listener, certificates carry no AIA or CRL URL unless
	// PublicURL is set. Default false (both open).
	NoMgmtListener bool
	NoHTTPListener bool
	// TLSCertificate, if set, is the serving certificate of the ACME and
	// management listeners instead of one issued by the hierarchy (Pebble's
	// certificate/privateKey). Default nil.
	TLSCertificate *tls.Certificate
	// TLSHosts are extra SANs for the serving certificate.
	TLSHosts []string
	// PublicURL is the base of the AIA, CRL and OCSP URLs put in
	// certificates, e.g. "http://fakeca.fakeca.svc"; default: the
	// HTTPListen address.
	PublicURL string
	// DataDir keeps the hierarchy's keys (so the trust bundle survives
	// restarts), the ACME state and the rate limiter's state (buckets,
	// pauses, the unpause-link key) in DataDir/state.db, and the event
	// journal; empty keeps everything in memory.
	DataDir    string
	CA         ca.Config
	PKI        pki.Config
	Validation challengeval.Config
	// DNS, if set, runs fakeca's DNS server (and its challtestsrv API); the
	// validator then asks it first for names in its zones, so records
	// added over RFC 2136 or the API are what validation sees.
	DNS *dnsserver.Config
	// Faults are the fault-injection rules loaded at start (more can be
	// added at run time through /faults on the management listener).
	Faults faults.Config
	// Events configures the event journal (persisted under DataDir/events
	// when DataDir is set).
	Events events.Config
	// RateLimits are Let's Encrypt's limits; the zero value is the
	// letsencrypt-staging preset (use Preset "off" to disable them).
	RateLimits ratelimit.Config
}

// Deps are the instance's collaborators; Logger may be nil.
type Deps struct {
	Clock  clock.Clock
	Logger *slog.Logger
}

// Instance is a running fakeca. Safe for concurrent use.
type Instance struct {
	server   *ca.Server
	dns      *dnsserver.Server
	bundle   []byte
	acmeAddr string
	mgmtAddr string
	httpAddr string
	servers  []*http.Server
	cancel   context.CancelFunc
	closers  []func() error
	wg       sync.WaitGroup
	errs     chan error
}

// Start builds a fakeca from cfg, binds its listeners and serves until
// Shutdown (or ctx's end).
func Start(ctx context.Context, cfg Config, deps Deps) (*Instance, error) {
	cfg = withDefaults(cfg)
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addrs := []string{cfg.Listen, cfg.MgmtListen, cfg.HTTPListen}
	if cfg.NoMgmtListener {
		addrs[1] = ""
	}
	if cfg.NoHTTPListener {
		addrs[2] = ""
	}
	lns, err := listenAll(addrs...)
	if err != nil {
		return nil, err
	}
	httpAddr := ""
	if lns[2] != nil {
		httpAddr = lns[2].Addr().String()
	}
	cfg = withPublicURLs(cfg, httpAddr)
	var dns *dnsserver.Server
	if cfg.DNS != nil {
		if dns, err = startDNS(ctx, *cfg.DNS, deps.Clock, log); err != nil {
			closeAll(lns)
			return nil, err
		}
		for _, z := range dns.Zones() {
			cfg.Validation.Forward = append(cfg.Validation.Forward, challengeval.Forward{Zone: z, Server: dns.Addr()})
		}
		cfg.Validation = validateAgainst(cfg.Validation, dns)
	}
	if cfg.RateLimits.UnpauseBaseURL == "" {
		cfg.RateLimits.UnpauseBaseURL = "https://" + lns[0].Addr().String()
	}
	p, err := build(cfg, deps.Clock, log)
	if err != nil {
		closeAll(lns)
		if dns != nil {
			_ = dns.Shutdown(context.Background())
		}
		return nil, err
	}
	srv, bundle, tlsCert := p.server, p.bundle, p.tlsCert
	if cfg.TLSCertificate != nil {
		tlsCert = *cfg.TLSCertificate
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12}
	i := &Instance{server: srv, dns: dns, bundle: bundle, acmeAddr: lns[0].Addr().String(),
		httpAddr: httpAddr, errs: make(chan error, 4)}
	if lns[1] != nil {
		i.mgmtAddr = lns[1].Addr().String()
	}
	i.serve(ctx, p, lns, tlsCfg, log)
	return i, nil
}

// withPublicURLs fills the certificate URLs (AIA, CRL, OCSP) from the
// public URL or the plain-HTTP listener, and the hierarchy's directory.
func withPublicURLs(cfg Config, httpAddr string) Config {
	public := strings.TrimSuffix(cfg.PublicURL, "/")
	if public == "" && httpAddr != "" {
		public = "http://" + httpAddr
	}
	if public != "" {
		cfg.PKI.AIABaseURL, cfg.PKI.CRLBaseURL = public+"/aia/", public+"/crl/"
		if cfg.CA.OCSP {
			cfg.PKI.OCSPBaseURL = public + "/ocsp"
		}
	}
	if cfg.DataDir != "" && cfg.PKI.Dir == "" {
		cfg.PKI.Dir = filepath.Join(cfg.DataDir, "pki")
	}
	return cfg
}

// serve starts the background work and one HTTP server per bound
// listener (ACME and management over TLS, public HTTP in the clear); the
// instance owns every goroutine and Shutdown waits for them.
func (i *Instance) serve(ctx context.Context, p parts, lns []net.Listener, tlsCfg *tls.Config, log *slog.Logger) {
	runCtx, cancel := context.WithCancel(ctx)
	i.cancel = cancel
	i.wg.Go(func() { _ = p.server.Run(runCtx) })
	i.wg.Go(func() { _ = p.journal.Run(runCtx) })
	if p.sink != nil {
		i.closers = append(i.closers, p.sink.Close)
	}
	i.closers = append(i.closers, p.closeStore)
	handlers := []http.Handler{acmeHandler(p), mgmtHandler(p), p.server.PublicHandler()}
	for n, ln := range lns {
		if ln == nil {
			continue
		}
		hs := &http.Server{Handler: handlers[n], ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		if n < 2 {
			hs.TLSConfig = tlsCfg
			ln = tls.NewListener(ln, tlsCfg)
		}
		i.servers = append(i.servers, hs)
		i.wg.Go(func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				i.errs <- err
			}
		})
	}
}

func withDefaults(cfg Config) Config {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:14000"
	}
	if cfg.MgmtListen == "" {
		cfg.MgmtListen = "127.0.0.1:15000"
	}
	if cfg.HTTPListen == "" {
		cfg.HTTPListen = "127.0.0.1:14080"
	}
	return cfg
}

// parts are the assembled components of one instance.
type parts struct {
	server   *ca.Server
	limiter  *ratelimit.Limiter
	journal  *events.Journal
	store    store.Store
	faults   *faults.Engine
	sink     *events.FileSink
	registry *prometheus.Registry // this instance's own, served at /metrics
	metrics  *ca.Metrics          // registered in registry; FaultFired feeds fault hits
	bundle   []byte
	tlsCert  tls.Certificate
}

// acmeHandler serves ACME behind the load balancer's request limits, plus
// the unpause pages Let's Encrypt serves from its portal.
func acmeHandler(p parts) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/sfe/v1/", p.limiter.UnpauseHandler())
	mux.Handle("/", p.limiter.LoadBalancer(p.server.Handler()))
	return mux
}

// mgmtHandler adds the rate-limit API, the event journal and the
// Prometheus metrics to the CA's management routes.
func mgmtHandler(p parts) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{Registry: p.registry}))
	mux.Handle("/rate-limits", p.limiter.Handler())
	mux.Handle("/rate-limits/", p.limiter.Handler())
	mux.Handle("/events", p.journal.Handler())
	mux.Handle("/faults", p.faults.Handler())
	mux.Handle("/faults/", p.faults.Handler())
	mux.Handle("/", p.server.ManagementHandler())
	return mux
}

func build(cfg Config, clk clock.Clock, log *slog.Logger) (parts, error) {
	h, err := pki.New(cfg.PKI, pki.Deps{Clock: clk})
	if err != nil {
		return parts{}, err
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, cfg.TLSHosts...)
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && host != "" {
		hosts = append(hosts, host)
	}
	tlsCert, err := h.ServingCertificate(hosts)
	if err != nil {
		return parts{}, fmt.Errorf("serving certificate: %w", err)
	}
	v, err := challengeval.New(cfg.Validation, challengeval.Deps{Clock: clk, Logger: log})
	if err != nil {
		return parts{}, err
	}
	reg, m, err := newMetrics()
	if err != nil {
		return parts{}, err
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return parts{}, err
	}
	p := parts{store: st, registry: reg, metrics: m, bundle: h.BundlePEM(), tlsCert: tlsCert}
	fail := func(err error) (parts, error) { return parts{}, errors.Join(err, p.closeSink(), p.closeStore()) }
	if p.limiter, err = newLimiter(cfg.RateLimits, st, ratelimit.Deps{Clock: clk, Logger: log,
		Observer: m.RateLimitDecision}); err != nil {
		return fail(err)
	}
	if p.journal, p.sink, err = buildJournal(cfg, clk, log); err != nil {
		return fail(err)
	}
	if p.faults, err = buildFaults(cfg.Faults, clk, log, p.journal, m); err != nil {
		return fail(err)
	}
	p.server, err = ca.New(cfg.CA, ca.Deps{Clock: clk, Logger: log, Store: st, PKI: h, Validator: v,
		Limiter: p.limiter, Journal: p.journal, Metrics: m, Faults: p.faults})
	if err != nil {
		return fail(err)
	}
	return p, nil
}

// newLimiter builds the rate limiter. With the embedded database (a
// DataDir) its buckets, issuance history, pauses and unpause key are kept
// there, so that limits, pauses and unpause links survive a restart as they
// do at Let's Encrypt; otherwise they are in memory.
func newLimiter(cfg ratelimit.Config, st store.Store, deps ratelimit.Deps) (*ratelimit.Limiter, error) {
	if db, ok := st.(*bolt.Store); ok {
		key, err := db.UnpauseKey(context.Background())
		if err != nil {
			return nil, fmt.Errorf("dataDir: %w", err)
		}
		deps.Source, deps.History, deps.Pauses, deps.UnpauseKey = db.Buckets(), db.History(), db.Pauses(), key
	}
	return ratelimit.New(cfg, deps)
}

// openStore is the embedded database under dataDir, or memory without one.
func openStore(dataDir string) (store.Store, error) {
	if dataDir == "" {
		return store.NewMemory(), nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("dataDir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dataDir, "state.db"), bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("dataDir: %w", err)
	}
	return db, nil
}

func (p parts) closeStore() error {
	if c, ok := p.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// buildFaults makes the fault engine; every firing is journaled and
// counted.
func buildFaults(cfg faults.Config, clk clock.Clock, log *slog.Logger, j *events.Journal, m *ca.Metrics) (*faults.Engine, error) {
	return faults.New(cfg, faults.Deps{Clock: clk, Logger: log, OnFire: func(rule faults.Rule, req faults.Request) {
		m.FaultFired(rule.Name)
		j.Append(events.Event{Kind: events.FaultFired, Rule: rule.Name, Account: req.AccountID,
			Identifiers: req.Identifiers, Message: "operation " + string(req.Operation)})
	}})
}

// newMetrics makes the instance's own registry (never Prometheus's global
// one) with the Go and process collectors and the CA's metrics.
func newMetrics() (*prometheus.Registry, *ca.Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	m, err := ca.NewMetrics(reg)
	return reg, m, err
}

// buildJournal makes the event journal, restored from DataDir/events.
func buildJournal(cfg Config, clk clock.Clock, log *slog.Logger) (*events.Journal, *events.FileSink, error) {
	deps := events.Deps{Clock: clk, Logger: log}
	var sink *events.FileSink
	if cfg.DataDir != "" {
		var err error
		sink, err = events.NewFileSink(events.FileSinkConfig{Dir: filepath.Join(cfg.DataDir, "events"), Keep: cfg.Events.Capacity},
			events.FileSinkDeps{Logger: log})
		if err != nil {
			return nil, nil, err
		}
		deps.Sink = sink
	}
	j, err := events.New(cfg.Events, deps)
	if err == nil && sink != nil {
		_, err = j.Restore(context.Background())
	}
	if err != nil && sink != nil {
		_ = sink.Close()
	}
	return j, sink, err
}

func (p parts) closeSink() error {
	if p.sink == nil {
		return nil
	}
	return p.sink.Close()
}

// listenAll binds every address; an empty one gets a nil listener.
func listenAll(addrs ...string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, a := range addrs {
		if a == "" {
			lns = append(lns, nil)
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("listen %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		if ln == nil {
			continue
		}
		_ = ln.Close()
	}
}

// validateAgainst points unset validation ports at the DNS server's own
// HTTP-01 and TLS-ALPN-01 responders, when they run.
func validateAgainst(v challengeval.Config, dns *dnsserver.Server) challengeval.Config {
	port := func(listener string) int {
		_, p, err := net.SplitHostPort(dns.ListenerAddr(listener))
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	if v.HTTP01Port == 0 {
		v.HTTP01Port = port(dnsserver.ListenerHTTP01)
	}
	if v.TLSALPN01Port == 0 {
		v.TLSALPN01Port = port(dnsserver.ListenerTLSALPN01)
	}
	return v
}

// startDNS starts fakeca's DNS server; it is ready when this returns.
func startDNS(ctx context.Context, cfg dnsserver.Config, clk clock.Clock, log *slog.Logger) (*dnsserver.Server, error) {
	dns, err := dnsserver.New(cfg, dnsserver.Deps{Clock: clk, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := dns.Start(ctx); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return dns, nil
}

// DNS is the running DNS server, nil unless Config.DNS was set.
func (i *Instance) DNS() *dnsserver.Server { return i.dns }

// DirectoryURL is the ACME directory URL.
func (i *Instance) DirectoryURL() string { return "https://" + i.acmeAddr + "/directory" }

// ACMEAddr, MgmtAddr and HTTPAddr are the bound listener addresses.
func (i *Instance) ACMEAddr() string { return i.acmeAddr }

// MgmtAddr is the management listener's address.
func (i *Instance) MgmtAddr() string { return i.mgmtAddr }

// HTTPAddr is the plain-HTTP listener's address.
func (i *Instance) HTTPAddr() string { return i.httpAddr }

// BundlePEM verifies the serving certificate and every issued leaf.
func (i *Instance) BundlePEM() []byte { return i.bundle }

// Errors reports listener failures after Start.
func (i *Instance) Errors() <-chan error { return i.errs }

// Shutdown stops accepting requests, lets requests and validations in
// flight finish (until ctx ends) and returns.
func (i *Instance) Shutdown(ctx context.Context) error {
	var errs []error
	for _, hs := range i.servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	i.cancel()
	done := make(chan struct{})
	go func() { i.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if i.dns != nil {
		errs = append(errs, i.dns.Shutdown(ctx))
	}
	for _, c := range i.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
