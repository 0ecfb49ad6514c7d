package events

import (
	"slices"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Event is one journal entry. Producers fill Kind and whichever of the
// other fields apply (see each Kind's comment); Journal.Append assigns Seq
// and Time. A zero ID or empty string means "not applicable". Events are
// plain values: the journal stores and returns deep copies, so callers may
// keep or change what they pass in and get back.
type Event struct {
	// Seq is the event's position in the journal: 1 for the first event,
	// then strictly increasing, also across restarts with persistence.
	// Use it as the since= cursor to fetch only newer events.
	Seq uint64 `json:"seq"`
	// Time is when the event was appended, from the journal's clock, in UTC.
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind Kind `json:"kind"`
	// Account is the ACME account's ID.
	Account int64 `json:"account,omitempty"`
	// Order is the order's ID.
	Order int64 `json:"order,omitempty"`
	// Authz is the authorization's ID.
	Authz int64 `json:"authz,omitempty"`
	// Serial is the certificate's serial, lower-case hex.
	Serial string `json:"serial,omitempty"`
	// Identifiers are the order's, authorization's or certificate's
	// identifiers, as the client wrote them ("*.example.com" in an order,
	// "example.com" in the wildcard's authorization).
	Identifiers []acme.Identifier `json:"identifiers,omitempty"`
	// Challenge is the challenge type, e.g. "http-01".
	Challenge string `json:"challenge,omitempty"`
	// Problem is the exact problem document the client was sent.
	Problem *Problem `json:"problem,omitempty"`
	// Limit is the rate limit's Boulder name, e.g. "NewOrdersPerAccount".
	Limit string `json:"limit,omitempty"`
	// Rule is the name of the fault-injection rule that fired.
	Rule string `json:"rule,omitempty"`
	// Message is a short free-form note for humans (profile, reason…).
	Message string `json:"message,omitempty"`
}

// Problem is the RFC 7807 problem a client was sent, as it saw it. The
// zero value is an empty problem. Plain data.
type Problem struct {
	// Type is the full problem type, e.g.
	// "urn:ietf:params:acme:error:unauthorized".
	Type string `json:"type"`
	// Detail is the detail text exactly as sent.
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status.
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After header in seconds, if one was sent
	// (rate limits), rounded as ca sends it.
	RetryAfter int64 `json:"retryAfter,omitempty"`
	// Identifier is set on a subproblem.
	Identifier *acme.Identifier `json:"identifier,omitempty"`
	// Subproblems are the per-identifier problems (RFC 8555 §6.7.1).
	Subproblems []Problem `json:"subproblems,omitempty"`
}

// ProblemFrom returns the problem a client is sent for err, or nil for a nil
// err. An *acme.Error (found with errors.As) gives its type, detail,
// status, Retry-After and subproblems; pass the error exactly as it is
// written to the client (after any WithPrefix). Any other error becomes serverInternal with status 500
// and the error's own text as detail: unlike the client, the journal's
// reader (the management API) sees why.
func ProblemFrom(err error) *Problem {
	if err == nil {
		return nil
	}
	e, ok := acme.As(err)
	if !ok {
		return &Problem{Type: acme.ServerInternal.URN(), Detail: err.Error(), Status: 500}
	}
	return problemOf(e)
}

func problemOf(e *acme.Error) *Problem {
	p := &Problem{Type: e.Type.URN(), Detail: e.Detail, Status: e.HTTPStatus()}
	if e.RetryAfter > 0 {
		p.RetryAfter = int64((e.RetryAfter + time.Second/2) / time.Second)
	}
	for _, s := range e.Sub {
		if s.Err == nil {
			continue
		}
		sp := problemOf(s.Err)
		id := s.Identifier
		sp.Identifier = &id
		p.Subproblems = append(p.Subproblems, *sp)
	}
	return p
}

// clone returns a deep copy of e.
func (e Event) clone() Event {
	e.Identifiers = slices.Clone(e.Identifiers)
	if e.Problem != nil {
		p := e.Problem.clone()
		e.Problem = &p
	}
	return e
}

func (p Problem) clone() Problem {
	if p.Identifier != nil {
		id := *p.Identifier
		p.Identifier = &id
	}
	if p.Subproblems != nil {
		subs := make([]Problem, len(p.Subproblems))
		for i, s := range p.Subproblems {
			subs[i] = s.clone()
		}
		p.Subproblems = subs
	}
	return p
}

// identifierKey is the index key of an identifier value: lower-cased, with
// a leading "*." and a trailing "." removed, so "*.Example.com." and
// "example.com" share a key. IP addresses are used as written.
func identifierKey(v string) string {
	v = strings.ToLower(v)
	v = strings.TrimPrefix(v, "*.")
	return strings.TrimSuffix(v, ".")
}

// hasKey reports whether one of e's identifiers has index key k.
func (e *Event) hasKey(k string) bool {
	for _, id := range e.Identifiers {
		if identifierKey(id.Value) == k {
			return true
		}
	}
	return false
}
