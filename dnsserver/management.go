package dnsserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBodyBytes caps management request bodies.
const maxBodyBytes = 1 << 20

// errMissing makes a handler answer a bare 400 with no body, as
// pebble-challtestsrv does for a missing field.
var errMissing = errors.New("missing field")

// hostReq is the body of the endpoints that take only a host.
type hostReq struct{ Host string }

// newManagementHandler builds the pebble-challtestsrv-compatible API. Every
// path, JSON body (field names matched case-insensitively, unknown fields
// ignored), status code and error text matches pebble-challtestsrv v2.10;
// any HTTP method is accepted. Unlike pebble-challtestsrv, every route is
// registered whether or not its listener is on, and values it would
// silently never serve (an invalid IP, host name or CAA tag) are a 400
// with the reason instead.
func (s *Server) newManagementHandler() http.Handler {
	rec, h01, alpn := s.records, s.http01, s.tlsalpn
	host := func(fn func(string) error) http.HandlerFunc {
		return apply(func(q hostReq) error { return need(q.Host != "", func() error { return fn(q.Host) }) })
	}
	routes := map[string]http.HandlerFunc{
		"/set-default-ipv4": apply(func(q struct{ IP string }) error { return rec.SetDefaultIPv4(q.IP) }),
		"/set-default-ipv6": apply(func(q struct{ IP string }) error { return rec.SetDefaultIPv6(q.IP) }),
		"/add-a": apply(func(q struct {
			Host      string
			Addresses []string
		}) error {
			return need(q.Host != "" && len(q.Addresses) > 0, func() error { return rec.AddA(q.Host, q.Addresses...) })
		}),
		"/clear-a": host(rec.ClearA),
		"/add-aaaa": apply(func(q struct {
			Host      string
			Addresses []string
		}) error {
			return need(q.Host != "" && len(q.Addresses) > 0, func() error { return rec.AddAAAA(q.Host, q.Addresses...) })
		}),
		"/clear-aaaa": host(rec.ClearAAAA),
		"/add-caa": apply(func(q struct {
			Host     string
			Policies []CAAPolicy
		}) error {
			return need(q.Host != "" && len(q.Policies) > 0, func() error { return rec.AddCAA(q.Host, q.Policies...) })
		}),
		"/clear-caa": host(rec.ClearCAA),
		"/set-cname": apply(func(q struct{ Host, Target string }) error {
			return need(q.Host != "" && q.Target != "", func() error { return rec.SetCNAME(q.Host, q.Target) })
		}),
		"/clear-cname": host(rec.ClearCNAME),
		"/set-txt": apply(func(q struct{ Host, Value string }) error {
			return need(q.Host != "" && q.Value != "", func() error { return rec.SetTXT(q.Host, q.Value) })
		}),
		"/clear-txt":      host(rec.ClearTXT),
		"/set-servfail":   host(rec.SetServFail),
		"/clear-servfail": host(rec.ClearServFail),
		"/add-http01": apply(func(q struct{ Token, Content string }) error {
			return need(q.Token != "" && q.Content != "", func() error { h01.Add(q.Token, q.Content); return nil })
		}),
		"/del-http01": apply(func(q struct{ Token string }) error {
			return need(q.Token != "", func() error { h01.Delete(q.Token); return nil })
		}),
		"/add-redirect": apply(func(q struct{ Path, TargetURL string }) error {
			return need(q.Path != "" && q.TargetURL != "", func() error { h01.AddRedirect(q.Path, q.TargetURL); return nil })
		}),
		"/del-redirect": apply(func(q struct{ Path string }) error {
			return need(q.Path != "", func() error { h01.DeleteRedirect(q.Path); return nil })
		}),
		"/add-tlsalpn01": apply(func(q struct{ Host, Content string }) error {
			return need(q.Host != "" && q.Content != "", func() error { alpn.Add(q.Host, q.Content); return nil })
		}),
		"/del-tlsalpn01":             host(func(h string) error { alpn.Delete(h); return nil }),
		"/http-request-history":      history(s.history.HTTP),
		"/dns-request-history":       history(s.history.DNS),
		"/tlsalpn01-request-history": history(s.history.TLSALPN),
		"/clear-request-history":     s.clearHistory,
	}
	mux := http.NewServeMux()
	for path, h := range routes {
		mux.Handle(path, h)
	}
	return s.managementMiddleware(mux)
}

// need returns errMissing unless ok, else the result of fn.
func need(ok bool, fn func() error) error {
	if !ok {
		return errMissing
	}
	return fn()
}

// apply decodes the JSON body into a T and runs fn: 200 with an empty body
// on success, a bare 400 for errMissing, else 400 with the error text.
func apply[T any](fn func(T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q T
		if !decode(w, r, &q) {
			return
		}
		if err := fn(q); errors.Is(err, errMissing) {
			w.WriteHeader(http.StatusBadRequest)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// decode reads a JSON body as pebble-challtestsrv's mustParsePOST does,
// answering 400 (413 past maxBodyBytes) itself when it fails.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return false
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	case len(body) == 0:
		http.Error(w, "expected JSON POST body, was empty", http.StatusBadRequest)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// history serves one request-history endpoint: the events as JSON
// indented with three spaces, "[]" when there are none.
func history[T any](get func(string) []T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q hostReq
		if !decode(w, r, &q) {
			return
		}
		if q.Host == "" {
			http.Error(w, "host parameter of POST body must not be empty", http.StatusBadRequest)
			return
		}
		b, err := json.MarshalIndent(get(q.Host), "", "   ")
		if err != nil {
			http.Error(w, "marshaling history failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	}
}

// clearHistory serves /clear-request-history.
func (s *Server) clearHistory(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Host string
		Typ  string `json:"type"`
	}
	if !decode(w, r, &q) {
		return
	}
	if q.Host == "" {
		http.Error(w, "host parameter must not be empty", http.StatusBadRequest)
		return
	}
	kind, ok := parseHistoryKind(q.Typ)
	if !ok {
		http.Error(w, fmt.Sprintf("%q event type unknown", q.Typ), http.StatusBadRequest)
		return
	}
	s.history.Clear(q.Host, kind)
	w.WriteHeader(http.StatusOK)
}

// statusWriter remembers the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// managementMiddleware caps the body, turns a panic into a 500 and logs
// one line per request.
func (s *Server) managementMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("dnsserver: management handler panicked", "path", r.URL.Path, "panic", p)
				if sw.status == 0 {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			s.log.Info("dnsserver: management request", "path", r.URL.Path, "status", sw.status)
		}()
		next.ServeHTTP(sw, r)
	})
}
