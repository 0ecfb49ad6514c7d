package faults

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Texts of the problems an action produces when the rule gives none.
const (
	// DetailBadNonce is Boulder's badNonce text (web/probs.go); ca/jws.go
	// uses the same.
	DetailBadNonce = "JWS has an invalid anti-replay nonce"
	// detailValidationFailed is Boulder's connect-timeout text, the most
	// common validation failure behind a firewall.
	detailValidationFailed = "Timeout during connect (likely firewall problem)"
	// detailInjected is the detail of a problem whose rule gives none.
	detailInjected = "Fault injected by fakeca rule %q"
	// defaultHTTPContentType is HTTPResponse.ContentType's default.
	defaultHTTPContentType = "text/plain; charset=utf-8"
	// urnPrefix is the prefix Problem.Type may carry.
	urnPrefix = "urn:ietf:params:acme:error:"
)

// Error returns the problem the action answers with: Problem (with
// RetryAfter), or badNonce with Boulder's text for BadNonce, or nil. The
// server returns it like any other error so that its one renderer writes
// the problem document.
func (a Action) Error() *acme.Error {
	switch {
	case a.Problem != nil:
		return &acme.Error{Type: acme.ErrorType(strings.TrimPrefix(string(a.Problem.Type), urnPrefix)),
			Detail: a.Problem.Detail, Status: a.Problem.Status, RetryAfter: a.RetryAfter}
	case a.BadNonce:
		return acme.New(acme.BadNonce, DetailBadNonce)
	}
	return nil
}

// ValidationResult reports whether the action decides a validation's
// outcome and, if it does, the outcome: nil for valid, else the problem to
// fail the challenge with (Problem, or connection "Timeout during connect
// (likely firewall problem)").
func (a Action) ValidationResult() (forced bool, err error) {
	switch {
	case a.Validation == acme.StatusValid:
		return true, nil
	case a.Problem != nil:
		return true, a.Error()
	case a.Validation == acme.StatusInvalid:
		return true, acme.New(acme.Connection, detailValidationFailed)
	}
	return false, nil
}

// WriteHTTP carries out the connection-level part of the action on w and
// reports whether it did, in which case nothing else may be written:
//
//   - HTTP: every header set so far (Replay-Nonce, Link…) is removed, as a
//     proxy's error page has none, and Status, ContentType, Retry-After and
//     Body are sent;
//   - Drop: the connection is hijacked and closed: the client sees EOF;
//   - Reset: the connection is hijacked and closed with SO_LINGER 0: the
//     client sees "connection reset by peer".
//
// Hijacking needs every ResponseWriter wrapper between the server and w to
// have an Unwrap method (http.ResponseController). When the connection
// cannot be hijacked (HTTP/2) Drop and Reset panic with
// http.ErrAbortHandler, which makes net/http abort the stream; a recover
// middleware above must re-panic that value.
func (a Action) WriteHTTP(w http.ResponseWriter) (handled bool) {
	switch {
	case a.Drop, a.Reset:
		closeConn(w, a.Reset)
		return true
	case a.HTTP != nil:
		h := w.Header()
		for k := range h {
			delete(h, k)
		}
		ct := a.HTTP.ContentType
		if ct == "" {
			ct = defaultHTTPContentType
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Length", strconv.Itoa(len(a.HTTP.Body)))
		if a.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int((a.RetryAfter+time.Second/2)/time.Second)))
		}
		w.WriteHeader(a.HTTP.Status)
		_, _ = io.WriteString(w, a.HTTP.Body)
		return true
	}
	return false
}

// closeConn hijacks the connection under w and closes it, with a TCP RST
// when reset is set. It closes the raw connection, not TLS, so no
// close_notify is sent: the peer sees the connection die as in a crash.
func closeConn(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tcp, ok := conn.(*net.TCPConn); ok && reset {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
