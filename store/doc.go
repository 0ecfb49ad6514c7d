// Package store keeps fakeca's state: accounts, orders, authorizations with
// their challenges, certificates and blocked keys.
//
// One interface, Store, has two backends: an in-memory one (the default,
// NewMemory) and, later, an embedded on-disk one. The interface is shaped so a
// networked SQL backend fits as well: values go in and out (never shared
// pointers), state transitions go through Update* calls that run a mutator
// inside one transaction, and every look-up the CA needs is an indexed
// method rather than a scan.
//
// In DESIGN.md's graph store is a leaf under ca: it imports only acme.
package store
