package dnsserver

import (
	"io"
	"net/http"
	"strings"
	"sync"
)

// wellKnownPrefix is where HTTP-01 responses live (RFC 8555 §8.3).
const wellKnownPrefix = "/.well-known/acme-challenge/"

// HTTP01 is the HTTP-01 responder behind the HTTP-01 and HTTPS-01
// listeners: it serves the key authorizations and redirects provisioned
// through the management API, and records every request in the History. It answers exactly like pebble-challtestsrv's
// HTTP-01 server: a provisioned token's key authorization with 200, a
// redirect (302, plain HTTP only) for a provisioned path, and an empty 200
// for anything else. Safe for concurrent use; Server.HTTP01 returns the
// server's.
type HTTP01 struct {
	history *History

	mu        sync.RWMutex
	tokens    map[string]string
	redirects map[string]string
}

var _ http.Handler = (*HTTP01)(nil)

func newHTTP01(h *History) *HTTP01 {
	return &HTTP01{history: h, tokens: map[string]string{}, redirects: map[string]string{}}
}

// Add serves keyAuth at /.well-known/acme-challenge/<token> (/add-http01).
func (h *HTTP01) Add(token, keyAuth string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens[token] = keyAuth
}

// Delete stops serving token (/del-http01).
func (h *HTTP01) Delete(token string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.tokens, token)
}

// AddRedirect answers requests for path with a 302 to targetURL
// (/add-redirect).
func (h *HTTP01) AddRedirect(path, targetURL string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.redirects[path] = targetURL
}

// DeleteRedirect removes the redirect for path (/del-redirect).
func (h *HTTP01) DeleteRedirect(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.redirects, path)
}

// lookup returns the redirect target and key authorization for a path.
func (h *HTTP01) lookup(path string) (redirect string, keyAuth string, found bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	redirect = h.redirects[path]
	if token, ok := strings.CutPrefix(path, wellKnownPrefix); ok {
		keyAuth, found = h.tokens[token]
	}
	return redirect, keyAuth, found
}

// ServeHTTP implements http.Handler.
func (h *HTTP01) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := HTTPRequest{URL: r.URL.String(), Host: r.Host, HTTPS: r.TLS != nil, UserAgent: r.UserAgent()}
	if r.TLS != nil {
		e.ServerName = r.TLS.ServerName
	}
	h.history.addHTTP(e)
	redirect, keyAuth, found := h.lookup(r.URL.Path)
	if redirect != "" && r.TLS == nil {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	if found {
		_, _ = io.WriteString(w, keyAuth)
	}
}
