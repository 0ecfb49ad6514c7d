package client

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// Errors the client returns itself.
var (
	// ErrNoSolver: no challenge of an authorization has a configured solver.
	ErrNoSolver = errors.New("no configured challenge solvers can be used for this challenge")
	// ErrNoAccount: the server knows no account for the key.
	ErrNoAccount = acme.ErrNoAccount
)

// Problem types the client looks at, as cert-manager does.
const (
	problemAlreadyReplaced = "urn:ietf:params:acme:error:alreadyReplaced"
	problemMalformed       = "urn:ietf:params:acme:error:malformed"
)

// Problem returns the server's problem document behind err: the error
// itself, the first problem of a failed authorization, or the problem of
// an invalid order. It returns nil when err holds none (a network error,
// say).
func Problem(err error) *acme.Error {
	var ae *acme.Error
	if errors.As(err, &ae) {
		return ae
	}
	var oe *acme.OrderError
	if errors.As(err, &oe) && oe.Problem != nil {
		return oe.Problem
	}
	var az *acme.AuthorizationError
	if errors.As(err, &az) {
		for _, e := range az.Errors {
			if errors.As(e, &ae) {
				return ae
			}
		}
	}
	return nil
}

// Retryable reports whether err should be retried rather than end the
// attempt, as cert-manager classifies it: by HTTP status, 5xx and
// transport errors (network, timeouts) retry, every 4xx — 429 rateLimited
// included — is final, and so is anything else (an invalid order, a
// failed authorization, a solver error).
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if p := Problem(err); p != nil {
		return p.StatusCode >= 500
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// isReplacesRejection reports whether a new-order error means the server
// refused `replaces` (RFC 9773): alreadyReplaced, a malformed problem that
// mentions "replaces", or no ARI support at all. cert-manager then retries
// the order once without it (acmeorders/sync.go).
func isReplacesRejection(err error) bool {
	if errors.Is(err, acme.ErrCADoesNotSupportARI) {
		return true
	}
	var ae *acme.Error
	if !errors.As(err, &ae) {
		return false
	}
	return ae.ProblemType == problemAlreadyReplaced ||
		(ae.ProblemType == problemMalformed && strings.Contains(strings.ToLower(ae.Detail), "replaces"))
}
