package acme

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrorType is an ACME problem type without its "urn:ietf:params:acme:error:"
// prefix. It implements error so that errors.Is(err, acme.Malformed) works on
// any *Error of that type. When a type is added, give it a status in statusOf.
type ErrorType string

// The ACME problem types fakeca produces (RFC 8555 §6.7 plus Boulder's and
// the ARI / profiles drafts').
const (
	AccountDoesNotExist     ErrorType = "accountDoesNotExist"
	AlreadyReplaced         ErrorType = "alreadyReplaced"
	AlreadyRevoked          ErrorType = "alreadyRevoked"
	BadCSR                  ErrorType = "badCSR"
	BadNonce                ErrorType = "badNonce"
	BadPublicKey            ErrorType = "badPublicKey"
	BadRevocationReason     ErrorType = "badRevocationReason"
	BadSignatureAlgorithm   ErrorType = "badSignatureAlgorithm"
	CAA                     ErrorType = "caa"
	Conflict                ErrorType = "conflict"
	Connection              ErrorType = "connection"
	DNS                     ErrorType = "dns"
	ExternalAccountRequired ErrorType = "externalAccountRequired"
	InvalidContact          ErrorType = "invalidContact"
	InvalidProfile          ErrorType = "invalidProfile"
	Malformed               ErrorType = "malformed"
	NotFound                ErrorType = "notFound" // rendered as malformed with 404, like Boulder
	OrderNotReady           ErrorType = "orderNotReady"
	RateLimited             ErrorType = "rateLimited"
	RejectedIdentifier      ErrorType = "rejectedIdentifier"
	ServerInternal          ErrorType = "serverInternal"
	TLS                     ErrorType = "tls"
	Unauthorized            ErrorType = "unauthorized"
	UnsupportedContact      ErrorType = "unsupportedContact"
	UnsupportedIdentifier   ErrorType = "unsupportedIdentifier"
	UserActionRequired      ErrorType = "userActionRequired"
	MethodNotAllowed        ErrorType = "methodNotAllowed" // rendered as malformed with 405
)

// Error implements error so ErrorType can be an errors.Is target.
func (t ErrorType) Error() string { return string(t) }

// URN returns the full problem type, e.g. "urn:ietf:params:acme:error:malformed".
// NotFound and MethodNotAllowed render as malformed, as Boulder does.
func (t ErrorType) URN() string {
	switch t {
	case NotFound, MethodNotAllowed:
		t = Malformed
	}
	return "urn:ietf:params:acme:error:" + string(t)
}

// HTTPStatus returns the HTTP status Boulder uses for the type (probs/probs.go).
func (t ErrorType) HTTPStatus() int {
	switch t {
	case Unauthorized, CAA, OrderNotReady, ExternalAccountRequired, UserActionRequired:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case AlreadyReplaced, Conflict:
		return http.StatusConflict
	case RateLimited:
		return http.StatusTooManyRequests
	case ServerInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// Error is fakeca's one internal error type: an ACME problem type, the detail
// text a client will see, per-identifier sub-errors and an optional retry
// delay. Write the user-facing Detail where the error is made; wrapping with
// %w adds log context only and never reaches the client.
// The zero value is not useful; build one with New. Safe to share once built.
type Error struct {
	Type       ErrorType
	Detail     string
	Status     int // HTTP status; 0 means Type.HTTPStatus()
	Sub        []SubError
	RetryAfter time.Duration
}

// SubError is a problem about one identifier (RFC 8555 §6.7.1).
type SubError struct {
	Identifier Identifier
	Err        *Error
}

// New returns an *Error of type t with a formatted detail.
func New(t ErrorType, format string, args ...any) *Error {
	if len(args) == 0 {
		return &Error{Type: t, Detail: format}
	}
	return &Error{Type: t, Detail: fmt.Sprintf(format, args...)}
}

// Error returns the detail, prefixed with the type for logs.
func (e *Error) Error() string { return string(e.Type) + ": " + e.Detail }

// Is makes errors.Is(err, acme.Malformed) true for an *Error of that type.
func (e *Error) Is(target error) bool {
	t, ok := target.(ErrorType)
	return ok && t == e.Type
}

// HTTPStatus returns the explicit status or the type's default.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Type.HTTPStatus()
}

// WithPrefix returns a copy whose detail is "<prefix> :: <detail>", the shape
// Boulder's WFE gives errors from its lower layers.
func (e *Error) WithPrefix(prefix string) *Error {
	c := *e
	c.Detail = prefix + " :: " + e.Detail
	if len(e.Sub) > 0 {
		c.Sub = make([]SubError, len(e.Sub))
		for i, s := range e.Sub {
			c.Sub[i] = SubError{Identifier: s.Identifier, Err: s.Err.WithPrefix(prefix)}
		}
	}
	return &c
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
