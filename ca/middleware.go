package ca

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/fakeca/fakeca/acme"
)

// requestEvent collects what one request did, for its single log line
// (Boulder's RequestEvent). Handlers fill it; middleware logs it once.
type requestEvent struct {
	header   http.Header // the response's, for headers found out late
	endpoint string      // the ACME route's metrics label; "" for other handlers
	account  int64
	order    int64
	authz    int64
	serial   string
	idents   []acme.Identifier
	problem  string
	internal error
}

type eventKey struct{}

func eventFrom(r *http.Request) *requestEvent {
	ev, _ := r.Context().Value(eventKey{}).(*requestEvent)
	return ev
}

// setAccount records the authenticated account and sends Boulder's
// Boulder-Requester header with its ID.
func (ev *requestEvent) setAccount(id int64) {
	if ev != nil {
		ev.account = id
		ev.header.Set("Boulder-Requester", itoa(id))
	}
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection, which the
// drop and reset faults hijack.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// middleware adds the body limit, panic recovery and the per-request log
// line around h.
func (s *Server) middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, start := &requestEvent{header: w.Header()}, s.metrics.requestStart()
		r = r.WithContext(context.WithValue(r.Context(), eventKey{}, ev))
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { // a fault killed the connection on purpose
					s.logRequest(r, rec.status, ev)
					s.metrics.request(ev.endpoint, r.Method, rec.status, start)
					panic(p)
				}
				ev.internal = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				if rec.status == 0 {
					s.writeError(rec, r, acme.New(acme.ServerInternal, detailInternal))
				}
			}
			s.logRequest(r, rec.status, ev)
			s.metrics.request(ev.endpoint, r.Method, rec.status, start)
		}()
		h.ServeHTTP(rec, r)
	})
}

func (s *Server) logRequest(r *http.Request, status int, ev *requestEvent) {
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status)}
	if ev.account != 0 {
		attrs = append(attrs, slog.Int64("account", ev.account))
	}
	if ev.order != 0 {
		attrs = append(attrs, slog.Int64("order", ev.order))
	}
	if ev.authz != 0 {
		attrs = append(attrs, slog.Int64("authz", ev.authz))
	}
	if ev.serial != "" {
		attrs = append(attrs, slog.String("serial", ev.serial))
	}
	if len(ev.idents) > 0 {
		attrs = append(attrs, slog.Any("identifier", identValues(ev.idents)))
	}
	if ev.problem != "" {
		attrs = append(attrs, slog.String("problem", ev.problem))
	}
	level := slog.LevelInfo
	if ev.internal != nil {
		level = slog.LevelError
		attrs = append(attrs, slog.String("err", ev.internal.Error()))
	}
	s.log.LogAttrs(r.Context(), level, "acme request", attrs...)
}

func identValues(ids []acme.Identifier) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Value
	}
	return out
}
