package faults

import (
	"context"
	"net/http"
	"strconv"
)

// ErrorWriter renders err as the server's problem document: ca passes its
// writeError, the one place that renders RFC 7807.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// reqState is what Middleware leaves in a request's context for Check.
type reqState struct {
	op     Operation
	early  Action // the action that fired in Middleware, if any
	fired  bool
	resume int          // the rule Check starts from when none fired early
	writer *faultWriter // nil unless a body or type change may be needed
}

type stateKey struct{}

// Middleware returns an http.Handler middleware that applies the rules
// which filter on nothing the handler has yet to find out (operation,
// method, counts, probability, window): opOf names the request's
// operation ("" passes the request through untouched) and writeError
// renders problems. Rules that filter on identifier, account or profile
// are left to Check, which the handler calls once it knows them.
//
// What it does with a firing rule's action, in order: waits Delay (+
// Jitter) on the clock; answers with HTTP, Drop or Reset (see WriteHTTP);
// answers with Problem or, for a POST, BadNonce through writeError;
// otherwise runs the handler with ContentType and MalformedJSON applied to
// what it writes. Stuck is passed on to the handler through Check. A
// client that goes away during the delay ends the request, but net/http
// notices that only once the request body has been read, so for a POST
// the delay runs its course.
//
// Mount it inside the route wrapper, after Replay-Nonce and Link are set,
// so the problems it writes carry them like any other. With no rules (or
// none for the request's operation) it costs an atomic load and opOf.
func (e *Engine) Middleware(opOf func(*http.Request) Operation, writeError ErrorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rs := e.rules.Load()
			if len(rs.rules) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			op := opOf(r)
			if rs.ops&op.bit() == 0 { // also "" and unknown operations
				next.ServeHTTP(w, r)
				return
			}
			st := &reqState{op: op}
			st.early, st.fired, st.resume = e.eval(rs, &Request{Operation: op, Method: r.Method}, stageEarly, 0)
			if (st.fired && st.early.rewrites()) || rs.late {
				st.writer = &faultWriter{ResponseWriter: w}
				w = st.writer
			}
			r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
			if st.fired && e.apply(w, r, st.early, st, writeError) {
				return
			}
			next.ServeHTTP(w, r)
			if st.writer != nil {
				st.writer.finish()
			}
		})
	}
}

// apply carries out a request-level action and reports whether the
// request is finished.
func (e *Engine) apply(w http.ResponseWriter, r *http.Request, a Action, st *reqState, writeError ErrorWriter) bool {
	if e.Wait(r.Context(), a.Delay) != nil {
		return true
	}
	if a.WriteHTTP(w) {
		return true
	}
	if err := a.Error(); err != nil {
		writeError(w, r, err)
		return true
	}
	st.writer.rewrite(a)
	return false
}

// Check applies, from inside a handler, the rules Middleware left for it:
// those that filter on identifier, account or profile, which the handler
// fills into req once it has authenticated the request and loaded the
// order or authorization. Without Middleware in front it applies every
// rule. Pass req.Operation (it defaults to the one Middleware found);
// req.Method defaults to the request's.
//
// It returns the action that fired for this request (here, or else in
// Middleware) so the handler can honour Stuck, and an error when the
// handler must stop: the problem to return (Problem, BadNonce) as it
// returns any error, ErrHandled when the response was written or the
// connection killed, or the context's error when the client went away
// during Delay. Call it at most once per request.
func (e *Engine) Check(w http.ResponseWriter, r *http.Request, req Request) (Action, error) {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	if st != nil && st.fired { // Middleware already applied the one rule that fires
		return st.early, nil
	}
	rs := e.rules.Load()
	stage, start := stageAll, 0
	if st != nil {
		stage, start = stageLate, st.resume
		if req.Operation == "" {
			req.Operation = st.op
		}
	}
	if req.Method == "" {
		req.Method = r.Method
	}
	a, fired := Action{}, false
	if len(rs.rules) > 0 && (st == nil || rs.late) {
		a, fired, _ = e.eval(rs, &req, stage, start)
	}
	if !fired {
		return Action{}, nil
	}
	if err := e.Wait(r.Context(), a.Delay); err != nil {
		return a, err
	}
	if a.WriteHTTP(w) {
		return a, ErrHandled
	}
	if err := a.Error(); err != nil {
		return a, err
	}
	if a.rewrites() {
		if st != nil && st.writer != nil {
			st.writer.rewrite(a)
		} else {
			e.log.Warn("fault cannot change the response: faults middleware not mounted", "operation", string(req.Operation))
		}
	}
	return a, nil
}

// rewrites reports whether a changes the handler's response.
func (a Action) rewrites() bool { return a.MalformedJSON || a.ContentType != "" }

// faultWriter changes a handler's response: its Content-Type and, for
// MalformedJSON, its body, which it holds until finish. Until rewrite is
// called it passes everything through.
type faultWriter struct {
	http.ResponseWriter
	contentType string
	truncate    bool
	wroteHeader bool
	status      int
	body        []byte
}

// rewrite arms w with a's changes; a nil w does nothing.
func (w *faultWriter) rewrite(a Action) {
	if w == nil {
		return
	}
	if a.ContentType != "" {
		w.contentType = a.ContentType
	}
	w.truncate = w.truncate || a.MalformedJSON
}

// WriteHeader records or forwards the status, with the new Content-Type.
func (w *faultWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		if code < 200 {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	w.wroteHeader = true
	if w.contentType != "" {
		w.Header().Set("Content-Type", w.contentType)
	}
	if w.truncate {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write forwards or, for MalformedJSON, buffers the body.
func (w *faultWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.truncate {
		w.body = append(w.body, b...)
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish sends a buffered body cut in half ("{" if it was shorter than two
// bytes), so that it is not valid JSON.
func (w *faultWriter) finish() {
	if !w.truncate {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	body := w.body[:len(w.body)/2]
	if len(w.body) < 2 {
		body = []byte("{")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}
