package store

import (
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Problem is an ACME problem kept with a challenge or an order: plain data,
// safe to copy and to serialise.
type Problem struct {
	Type        acme.ErrorType   `json:"type"`
	Detail      string           `json:"detail"`
	Status      int              `json:"status"`
	Identifier  *acme.Identifier `json:"identifier,omitempty"`
	Subproblems []Problem        `json:"subproblems,omitempty"`
}

// Account is an ACME account. ID is assigned by the store.
type Account struct {
	ID int64
	// JWK is the account's public key as a JSON Web Key.
	JWK []byte
	// KeyID identifies the key: base64url SHA-256 JWK thumbprint (RFC 7638).
	KeyID     string
	Status    acme.Status
	Contact   []string
	CreatedAt time.Time
	// InitialIP is the address the account was created from.
	InitialIP string
	// EABKeyID is the external account binding key ID, if one was used.
	EABKeyID string
}

// Order is an ACME order. ID is assigned by the store. Its status is not
// stored: ca derives it from the order, its authorizations and the clock.
type Order struct {
	ID          int64
	AccountID   int64
	Identifiers []acme.Identifier // lower-cased, deduplicated, sorted
	AuthzIDs    []int64
	Profile     string
	Replaces    string // ARI certID, if the order replaces a certificate
	Created     time.Time
	Expires     time.Time
	NotBefore   time.Time // requested, only with allow-order-validity
	NotAfter    time.Time
	// BeganProcessing is set when finalization starts.
	BeganProcessing bool
	Error           *Problem
	CertSerial      string
	// CSR is the DER certificate request that finalization accepted, set
	// together with BeganProcessing, so that an issuance interrupted by a
	// restart can be resumed (see Store.Unfinished). nil before.
	CSR []byte
}

// Authorization is an ACME authorization with its challenges. ID is assigned
// by the store. Identifier never has a "*." prefix; Wildcard says if it had.
type Authorization struct {
	ID         int64
	AccountID  int64
	Identifier acme.Identifier
	Wildcard   bool
	Profile    string
	Status     acme.Status
	Created    time.Time
	Expires    time.Time
	Challenges []Challenge
}

// Challenge is one challenge of an authorization.
type Challenge struct {
	Type      string
	Token     string
	Status    acme.Status
	Validated time.Time
	Error     *Problem
	// AccountURI is the account URL the client was shown when it accepted
	// the challenge (URLs follow the Host the client used), set when the
	// challenge becomes processing, so that a validation resumed after a
	// restart checks the same dns-account-01 label and CAA accounturi.
	AccountURI string
}

// Certificate is an issued certificate.
type Certificate struct {
	Serial      string // 36 lower-case hex digits
	AccountID   int64
	OrderID     int64
	DER         []byte
	IssuerID    string // pki issuer name of the intermediate that signed it
	CRLShard    int    // the CRL shard named in the certificate (1-based)
	Identifiers []acme.Identifier
	Issued      time.Time // database issuance time (ARI uses it)
	Expires     time.Time // notAfter
	KeyHash     string    // base64url SHA-256 of the SubjectPublicKeyInfo
	Revoked     bool
	RevokedAt   time.Time
	Reason      int
	// ReplacementOrder is the ID of the newest order whose ARI "replaces"
	// names this certificate, 0 if none.
	ReplacementOrder int64
}

// OrderKey finds a reusable order: same account, same identifier set, same
// profile string.
type OrderKey struct {
	AccountID   int64
	Identifiers []acme.Identifier // canonical (sorted, deduplicated)
	Profile     string
}

// AuthzKey finds a reusable valid authorization.
type AuthzKey struct {
	AccountID  int64
	Identifier acme.Identifier // without "*."
	Wildcard   bool
	Profile    string
}
