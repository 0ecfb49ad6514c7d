package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// http01Prefix is where RFC 8555 §8.3 puts the key authorization.
const http01Prefix = "/.well-known/acme-challenge/"

// HTTP01Config configures an HTTP01 responder.
type HTTP01Config struct {
	// Listen is the address to serve on; the server connects to port 80
	// of the name (fakeca: --http01-port). Ignored when Deps.Listener is
	// set. Default "127.0.0.1:80"; use ":80" on a public host.
	Listen string
}

// HTTP01Deps are an HTTP01 responder's collaborators; all optional.
type HTTP01Deps struct {
	// Listener, if set, is served instead of binding Config.Listen (for
	// tests and for ports chosen before the CA starts).
	Listener net.Listener
	Logger   *slog.Logger
}

// HTTP01 is a built-in http-01 responder and Solver: it serves the key
// authorization of every presented token at
// /.well-known/acme-challenge/<token> and 404 elsewhere. Build it with
// NewHTTP01, then Start; safe for concurrent use.
type HTTP01 struct {
	cfg    HTTP01Config
	ln     net.Listener
	log    *slog.Logger
	tokens tokenMap
	srv    *http.Server
	done   chan struct{}
}

var _ Solver = (*HTTP01)(nil)

// NewHTTP01 builds a responder; it binds nothing until Start.
func NewHTTP01(cfg HTTP01Config, deps HTTP01Deps) *HTTP01 {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:80"
	}
	h := &HTTP01{cfg: cfg, ln: deps.Listener, log: deps.Logger, tokens: tokenMap{m: map[string]string{}}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Start binds (unless given a listener) and serves until Shutdown.
func (h *HTTP01) Start(ctx context.Context) error {
	if h.ln == nil {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", h.cfg.Listen)
		if err != nil {
			return fmt.Errorf("http-01 responder: %w", err)
		}
		h.ln = ln
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)}
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("http-01 responder stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address, "" before Start.
func (h *HTTP01) Addr() string {
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Shutdown stops serving and waits for the server goroutine.
func (h *HTTP01) Shutdown(ctx context.Context) error {
	if h.srv == nil {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	<-h.done
	return err
}

// ServeHTTP answers challenge requests.
func (h *HTTP01) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, http01Prefix)
	ka, found := h.tokens.get(token)
	if !ok || !found || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.log.Debug("http-01 request for unknown token", "path", r.URL.Path, "host", r.Host)
		http.NotFound(w, r)
		return
	}
	h.log.Debug("http-01 challenge served", "identifier", r.Host, "token", token)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(ka))
}

// Present serves ch's key authorization.
func (h *HTTP01) Present(_ context.Context, ch Challenge) error {
	h.tokens.set(ch.Token, ch.KeyAuth)
	return nil
}

// CleanUp stops serving it.
func (h *HTTP01) CleanUp(_ context.Context, ch Challenge) error {
	h.tokens.del(ch.Token)
	return nil
}

// tokenMap is a mutex-guarded map from a key (token or name) to a value.
type tokenMap struct {
	mu sync.RWMutex
	m  map[string]string
}

func (t *tokenMap) get(k string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.m[k]
	return v, ok
}

func (t *tokenMap) set(k, v string) {
	t.mu.Lock()
	t.m[k] = v
	t.mu.Unlock()
}

func (t *tokenMap) del(k string) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}
