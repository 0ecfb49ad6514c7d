// Package challengeval validates ACME challenges and checks CAA the way Let's
// Encrypt's Boulder VA does: http-01, dns-01 and tls-alpn-01, plus the
// drafts dns-account-01 (draft-ietf-acme-dns-account-label) and
// dns-persist-01 (draft-ietf-acme-dns-persist) as Let's Encrypt staging and
// Pebble 2.10 offer them, with Boulder's error types and detail texts, so a
// client sees the same problem document from fakeca that it would see from
// Let's Encrypt.
//
// In DESIGN.md's graph challengeval sits under ca (ca → challengeval) and
// imports only the shared vocabulary in package acme. The CA builds one
// Validator with New and calls Validator.Validate for every validation
// attempt; Validate returns nil on success or an *acme.Error carrying the
// ACME problem type (connection, unauthorized, dns, caa, tls or malformed)
// and the exact detail Boulder would write. After a successful validation of
// a DNS name Validate checks CAA (RFC 8659 with RFC 8657's accounturi and
// validationmethods) for Config.CAAIdentities; Validator.CheckCAA is
// exported so the CA can recheck CAA at finalize for authorizations older
// than CAARecheckAge, and RecheckError shapes those failures as Boulder's RA
// does. Validator.LookupHost is exported so the CA (and tests) resolve names
// exactly as validation does.
//
// Name resolution goes through Config.HostOverrides first (a static host map
// with exact and "*.suffix" patterns, for A/AAAA only) and then DNS: names at
// or below a Config.Forward zone are asked of that zone's server only (the
// longest zone wins), every other name of Config.Resolvers, over UDP with a
// TCP retry when truncated.
//
// Config.Delay imitates a slow CA and Config.AlwaysValid skips validation
// and CAA; Config.Rules set either per identifier pattern. Delays wait on
// the injected clock (Deps.Clock), so a fake clock drives them in tests and
// in the simulator.
//
// Deliberate differences from Boulder, because fakeca is a local CA:
//   - loopback, private and other reserved addresses are not discarded from
//     DNS answers and may be redirect targets;
//   - redirect targets may end in the special-use test TLDs test, example,
//     invalid, localhost, internal and home.arpa as well as in any ICANN TLD;
//   - ports are configurable (Config.HTTP01Port, Config.TLSALPN01Port and
//     Config.RedirectPortMap) so tests need no privileged ports;
//   - there is a single validation perspective (no MPIC);
//   - several CAA identities may be configured (Boulder has one), and CAA
//     can be switched off (Config.SkipCAA).
//
// A Validator starts no goroutines of its own outside a call; each Validate,
// CheckCAA and LookupHost call waits for everything it starts before
// returning.
package challengeval
