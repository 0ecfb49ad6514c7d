// Package policy holds fakeca's issuance policy as pure decision functions:
// which identifiers may be ordered (Boulder's policy/pa.go and iana/), which
// public keys are acceptable for accounts and certificates (goodkey/) and
// which CSRs may finalize an order (csr/csr.go and the CSR half of
// ra.validateFinalizeRequest). It has no HTTP, no store and no clock.
//
// In DESIGN.md's graph it sits under ca: ca → ca/policy → acme. Every
// rejection is an *acme.Error carrying the problem type and Boulder's detail
// text without the WFE's endpoint prefix; the caller adds "Invalid identifiers
// requested", "Error creating new order" or "Error finalizing order" with
// (*acme.Error).WithPrefix. Errors that are not policy decisions (a failing
// blocked-key lookup) are plain errors, which ca/problem.go renders as
// serverInternal.
//
// The identifier rules follow Let's Encrypt exactly, except that by default
// (Config.StrictPublicSuffix false) fakeca, being a local CA, also accepts
// the special-use names local testing relies on (.test, .example, .invalid,
// .localhost, .internal, .home.arpa) and loopback and RFC 1918 addresses.
//
// Typical new-order flow, in Boulder's order:
//
//	ids := policy.Canonical(req.Identifiers)
//	p.WellFormed(ids)                       // WFE: "Invalid identifiers requested :: …"
//	policy.CheckProfileIdentifiers(ids, …)  // RA: "Error creating new order :: …"
//	p.CheckIdentifiers(ids)                 // RA (adds the blocklist)
//	policy.CheckWildcardRedundancy(ids)     // RA
//
// and at finalize: ParseCSR, then CheckCSR.
//
// A *Policy is immutable after New and safe for concurrent use.
package policy
