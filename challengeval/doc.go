// Package challengeval validates ACME challenges the way Let's Encrypt's
// Boulder VA does: http-01, dns-01 and tls-alpn-01, with Boulder's error
// types and detail texts, so a client sees the same problem document from
// fakeca that it would see from Let's Encrypt.
//
// In DESIGN.md's graph challengeval sits under ca (ca → challengeval) and
// imports only the shared vocabulary in package acme. The CA builds one
// Validator with New and calls Validator.Validate for every validation
// attempt; Validate returns nil on success or an *acme.Error carrying the
// ACME problem type (connection, unauthorized, dns, tls or malformed) and the
// exact detail Boulder would write. Validator.LookupHost is exported so the CA
// (and tests) resolve names exactly as validation does.
//
// Name resolution goes through Config.HostOverrides first (a static host map
// with exact and "*.suffix" patterns, for A/AAAA only) and then the
// configured DNS resolvers (UDP, retried over TCP when truncated).
//
// Deliberate differences from Boulder, because fakeca is a local CA:
//   - loopback, private and other reserved addresses are not discarded from
//     DNS answers and may be redirect targets;
//   - redirect targets may end in the special-use test TLDs test, example,
//     invalid, localhost, internal and home.arpa as well as in any ICANN TLD;
//   - ports are configurable (Config.HTTP01Port, Config.TLSALPN01Port and
//     Config.RedirectPortMap) so tests need no privileged ports;
//   - there is a single validation perspective (no MPIC).
//
// A Validator starts no goroutines of its own outside a call; each Validate
// and LookupHost call waits for everything it starts before returning.
package challengeval
