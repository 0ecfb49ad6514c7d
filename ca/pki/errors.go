package pki

import "errors"

// Sentinel errors. Functions wrap them with details; test with errors.Is.
var (
	// ErrUnsupportedKey: the public key is not RSA, ECDSA or Ed25519 (Issue).
	ErrUnsupportedKey = errors.New("pki: unsupported public key type")
	// ErrNoIdentifiers: the request names no DNS name and no IP address (Issue).
	ErrNoIdentifiers = errors.New("pki: certificate request has no identifiers")
	// ErrValidity: a validity window is empty, too long, or outside the
	// issuer's (Issue, CRL).
	ErrValidity = errors.New("pki: invalid validity period")
	// ErrUnknownIssuer: no issuer has the given ID (CRL).
	ErrUnknownIssuer = errors.New("pki: unknown issuer")
	// ErrCRLShard: the shard is outside 1..CRLShards (CRL).
	ErrCRLShard = errors.New("pki: CRL shard out of range")
	// ErrNoCRLURL: Config.CRLBaseURL is empty, so shards have no URL to put
	// in the issuingDistributionPoint (CRL).
	ErrNoCRLURL = errors.New("pki: no CRL URL configured (pki.crlBaseURL is empty)")
	// ErrRevokedEntry: a CRL entry has no serial, no revocation time or a
	// reason code a CRL cannot carry (CRL).
	ErrRevokedEntry = errors.New("pki: invalid revoked entry")
	// ErrNoSuchKey: the key index is out of range (RootKeyPEM,
	// IntermediateKeyPEM).
	ErrNoSuchKey = errors.New("pki: no such key")
)
