// Package acme holds the small vocabulary that every fakeca package shares:
// identifiers, statuses and the internal error type that carries an ACME
// problem type, Boulder's detail text and an optional Retry-After.
//
// It sits at the bottom of DESIGN.md's graph: store, challengeval, ratelimit,
// faults and ca import it; it imports nothing of fakeca. It does not render
// RFC 7807 documents — only ca/problem.go does that.
package acme
