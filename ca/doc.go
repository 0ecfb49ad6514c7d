// Package ca is fakeca's ACME server: the web front end (routes, JWS and
// nonces, problem documents) and the registration authority (accounts,
// orders, authorizations, challenges, finalization, revocation, ARI) of a
// Let's-Encrypt-shaped CA.
//
// Handlers parse and render; decisions live in plain functions that take
// values and the current time (orderStatus, transition, the policy package).
// Crypto is delegated to ca/pki, identifier/key/CSR policy to ca/policy,
// state to store and challenge validation to challengeval.
//
// In DESIGN.md's graph: cmd → ca → {ca/pki, ca/policy, store, challengeval}.
// Everything observable (URL shapes, headers, problem texts) follows
// Let's Encrypt's Boulder as described in shared/reference/letsencrypt.md.
package ca
