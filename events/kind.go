package events

import "strings"

// Kind says what happened. Its value is the stable, kebab-case name used in
// JSON, in the management API's kind= parameter and in persisted journals,
// so a value must never be renamed once released. The zero value is not a
// valid Kind. Values are plain data.
//
// To add a kind: add a constant below, add it to Kinds (in the order it
// should be listed), document which fields it sets, and add the call in the
// producer (see the wiring table in doc.go).
type Kind string

// The kinds of event. Each comment lists the fields the producer sets
// besides Seq, Time and Kind.
const (
	// AccountCreated: a new account was registered. Account.
	AccountCreated Kind = "account-created"
	// AccountDeactivated: the client deactivated its account. Account.
	AccountDeactivated Kind = "account-deactivated"
	// OrderCreated: new-order created an order. Account, Order,
	// Identifiers; Message names the profile or ARI "replaces" if any.
	OrderCreated Kind = "order-created"
	// OrderReused: new-order answered with an existing pending or ready
	// order instead of creating one. Account, Order, Identifiers.
	OrderReused Kind = "order-reused"
	// ChallengeStarted: the client asked for a challenge to be validated.
	// Account, Order (if known), Authz, Identifiers (the authorization's),
	// Challenge.
	ChallengeStarted Kind = "challenge-started"
	// ValidationSucceeded: a challenge was validated and its authorization
	// became valid. As ChallengeStarted.
	ValidationSucceeded Kind = "validation-succeeded"
	// ValidationFailed: a challenge failed and its authorization became
	// invalid. As ChallengeStarted, plus Problem: the exact problem the
	// client sees on the challenge.
	ValidationFailed Kind = "validation-failed"
	// AuthzDeactivated: the client deactivated an authorization. Account,
	// Authz, Identifiers.
	AuthzDeactivated Kind = "authz-deactivated"
	// FinalizeRejected: finalize was refused (order not ready, bad CSR,
	// CSR names not matching the order…). Account, Order, Identifiers,
	// Problem.
	FinalizeRejected Kind = "finalize-rejected"
	// CertificateIssued: a certificate was issued for an order. Account,
	// Order, Serial, Identifiers; Message names the profile and issuer.
	CertificateIssued Kind = "certificate-issued"
	// IssuanceFailed: signing or storing failed after finalize was
	// accepted, and the order became invalid. Account, Order, Identifiers,
	// Problem.
	IssuanceFailed Kind = "issuance-failed"
	// CertificateRevoked: a certificate was revoked. Account (the
	// requester's, 0 if revoked with the certificate key), Serial,
	// Identifiers; Message names the reason.
	CertificateRevoked Kind = "certificate-revoked"
	// RateLimited: a rate limit denied a request. Account (0 for a new
	// account), Identifiers (for order limits), Limit (the limit's Boulder
	// name), Problem (the 429 the client sees).
	RateLimited Kind = "rate-limited"
	// FaultFired: a fault-injection rule changed a request's outcome.
	// Whatever the request carried (Account, Order, Authz, Identifiers),
	// Rule (the rule's name), Problem if the fault answers with one,
	// Message describing the action.
	FaultFired Kind = "fault-fired"
	// CAARecheckFailed: the CAA recheck at finalize (authorization older
	// than 7 hours) refused issuance. Account, Order, Identifiers (those
	// that failed), Problem.
	CAARecheckFailed Kind = "caa-recheck-failed"
	// KeyChanged: an account rolled over its key. Account; Message holds
	// the new key's thumbprint.
	KeyChanged Kind = "key-changed"
)

// Kinds returns every Kind in a fresh slice, in the order listed above.
func Kinds() []Kind {
	return []Kind{
		AccountCreated, AccountDeactivated, OrderCreated, OrderReused,
		ChallengeStarted, ValidationSucceeded, ValidationFailed, AuthzDeactivated,
		FinalizeRejected, CertificateIssued, IssuanceFailed, CertificateRevoked,
		RateLimited, FaultFired, CAARecheckFailed, KeyChanged,
	}
}

// Valid reports whether k is one of the constants above.
func (k Kind) Valid() bool {
	for _, v := range Kinds() {
		if v == k {
			return true
		}
	}
	return false
}

// ParseKind returns the Kind named s, accepting only the exact names.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	return k, k.Valid()
}

// kindList renders every kind, comma-separated, for error messages.
func kindList() string {
	ks := Kinds()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
