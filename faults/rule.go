package faults

import (
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Rule is one fault: when a request or asynchronous step meets Match, Action
// happens instead of (or on top of) the normal behaviour. Plain data; the
// zero value is invalid (a rule needs a name and an action).
type Rule struct {
	// Name identifies the rule in logs, events and the management API
	// (DELETE /faults/<name>): letters, digits, '.', '_' and '-', at most 64
	// characters, unique. Required.
	Name string `yaml:"name"`
	// Match says which requests the rule fires on. The zero value matches
	// every ACME request (but no validation or issuance).
	Match Match `yaml:"match,omitempty"`
	// Action says what happens when it fires. Required.
	Action Action `yaml:"action"`
}

// Match selects requests. Every field that is set must hold; unset fields
// match anything. Filters (operation … window) are checked first; only the
// requests that pass them count for Nth and Every, then Probability is
// drawn, then Max is checked. Plain data.
type Match struct {
	// Operation and Operations name the operations the rule applies to;
	// both may be given and are merged. Default: every ACME request.
	// Validation and issuance are never included by default: name them.
	Operation  Operation   `yaml:"operation,omitempty"`
	Operations []Operation `yaml:"operations,omitempty"`
	// Method is GET, HEAD or POST. Default: any. A badNonce action implies
	// POST.
	Method string `yaml:"method,omitempty"`
	// Identifier is a glob (path.Match syntax, case-insensitive) that must
	// match at least one identifier of the request, order or authorization,
	// e.g. "*.flaky.test" (which matches "a.flaky.test" and
	// "*.flaky.test", not "flaky.test"). Default: any, including none.
	Identifier string `yaml:"identifier,omitempty"`
	// Account is the account ID the request must come from. Default: any.
	Account int64 `yaml:"account,omitempty"`
	// Profile is the certificate profile of the order (the resolved name,
	// so the default profile matches by its name). Default: any.
	Profile string `yaml:"profile,omitempty"`
	// Nth fires the rule only on the Nth request that passes the filters
	// (1 = the first). Default 0: every one. Not with Every.
	Nth int64 `yaml:"nth,omitempty"`
	// Every fires the rule on every Nth request that passes the filters
	// (the Nth, 2Nth, …). Default 0: every one. Not with Nth.
	Every int64 `yaml:"every,omitempty"`
	// Probability fires the rule with this chance, 0 < p ≤ 1, drawn from a
	// PCG generator seeded with Seed: the same seed and the same sequence
	// of requests give the same firings. Default 0: always.
	Probability float64 `yaml:"probability,omitempty"`
	// Seed seeds the rule's generator, used by Probability and by the
	// action's Jitter. Default 0 (still deterministic).
	Seed uint64 `yaml:"seed,omitempty"`
	// Window limits the rule to a span of (injected-clock) time. Default:
	// always.
	Window *Window `yaml:"window,omitempty"`
	// Max stops the rule after it has fired Max times. Default 0: no limit.
	Max int64 `yaml:"max,omitempty"`
}

// Window is a span of time, either absolute (From, To) or relative to the
// moment the rule was loaded (After, For): the engine's start for rules
// from the configuration file, the POST for rules added at run time. The
// start is inclusive, the end exclusive. Plain data.
type Window struct {
	// From is when the rule starts to apply. Default: at once.
	From time.Time `yaml:"from,omitempty"`
	// To is when it stops. Default: never.
	To time.Time `yaml:"to,omitempty"`
	// After delays the start relative to loading. Default 0.
	After time.Duration `yaml:"after,omitempty"`
	// For is how long the rule applies from its start. Default: for ever.
	For time.Duration `yaml:"for,omitempty"`
}

// Action is what a firing rule does. Several effects combine: a Delay
// happens first, then at most one response (Problem, HTTP, Drop, Reset or
// BadNonce); MalformedJSON and ContentType alter the real response; Stuck,
// Validation and ValidationDelay are honoured by the server where it
// decides (see the package documentation). Plain data; the zero value does
// nothing and is not a valid rule action.
type Action struct {
	// Problem answers with an ACME problem document. At validation it fails
	// the challenge with it; at issuance it fails the order with it.
	Problem *Problem `yaml:"problem,omitempty"`
	// RetryAfter adds a Retry-After header to Problem or HTTP. Default none.
	RetryAfter time.Duration `yaml:"retryAfter,omitempty"`
	// HTTP answers with a raw response, as a proxy or load balancer in
	// front of the CA would (e.g. 502 with an HTML page).
	HTTP *HTTPResponse `yaml:"http,omitempty"`
	// Delay holds the request (or the issuance) this long before anything
	// else, on the injected clock.
	Delay time.Duration `yaml:"delay,omitempty"`
	// Jitter adds a random duration in [0, Jitter), drawn from the rule's
	// generator, to ValidationDelay at validation and to Delay elsewhere.
	Jitter time.Duration `yaml:"jitter,omitempty"`
	// Drop closes the connection without a response: the client sees EOF.
	Drop bool `yaml:"drop,omitempty"`
	// Reset aborts the connection with a TCP RST: the client sees
	// "connection reset by peer".
	Reset bool `yaml:"reset,omitempty"`
	// BadNonce rejects the request's (valid) nonce with badNonce, as Pebble
	// does at random. POST only.
	BadNonce bool `yaml:"badNonce,omitempty"`
	// MalformedJSON sends the real response cut in half, so its JSON does
	// not parse.
	MalformedJSON bool `yaml:"malformedJSON,omitempty"`
	// ContentType replaces the real response's Content-Type, e.g.
	// "text/html".
	ContentType string `yaml:"contentType,omitempty"`
	// Stuck keeps an order in pending (at order or finalize), ready (at
	// finalize) or processing (at finalize or issuance).
	Stuck acme.Status `yaml:"stuck,omitempty"`
	// Validation forces a validation's outcome: valid, or invalid with
	// Problem (default: connection "Timeout during connect (likely firewall
	// problem)"). A Problem alone at validation also means invalid.
	Validation acme.Status `yaml:"validation,omitempty"`
	// ValidationDelay holds a validation this long before it runs.
	ValidationDelay time.Duration `yaml:"validationDelay,omitempty"`
}

// Problem is an ACME problem an action answers with. Plain data.
type Problem struct {
	// Type is the ACME problem type, with or without the
	// "urn:ietf:params:acme:error:" prefix, e.g. serverInternal. Required.
	Type acme.ErrorType `yaml:"type"`
	// Detail is the text the client sees. Default: a note naming the rule.
	Detail string `yaml:"detail,omitempty"`
	// Status is the HTTP status, 400–599. Default: the type's (Boulder's).
	Status int `yaml:"status,omitempty"`
}

// HTTPResponse is a raw response an action answers with. Plain data.
type HTTPResponse struct {
	// Status is the HTTP status, 100–599. Required.
	Status int `yaml:"status"`
	// Body is sent as is. Default empty.
	Body string `yaml:"body,omitempty"`
	// ContentType is the body's type. Default "text/plain; charset=utf-8".
	ContentType string `yaml:"contentType,omitempty"`
}
