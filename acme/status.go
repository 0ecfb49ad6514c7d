package acme

// Status is the status of an ACME object (RFC 8555 §7.1.6).
type Status string

// The statuses used by accounts, orders, authorizations and challenges.
const (
	StatusPending     Status = "pending"
	StatusReady       Status = "ready"
	StatusProcessing  Status = "processing"
	StatusValid       Status = "valid"
	StatusInvalid     Status = "invalid"
	StatusDeactivated Status = "deactivated"
	StatusExpired     Status = "expired"
	StatusRevoked     Status = "revoked"
)

// Challenge types. When a type is added, update challengeval (a validator),
// ca/policy.go (which identifiers are offered it) and the directory docs.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeDNS01     = "dns-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
	// ChallengeDNSAccount01 is draft-ietf-acme-dns-account-label.
	ChallengeDNSAccount01 = "dns-account-01"
	// ChallengeDNSPersist01 is draft-ietf-acme-dns-persist.
	ChallengeDNSPersist01 = "dns-persist-01"
)
