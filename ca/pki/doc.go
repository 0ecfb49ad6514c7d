// Package pki is fakeca's certificate authority core: the key hierarchy
// (roots, a cross-signed root, RSA and ECDSA intermediates), certificate
// profiles and leaf issuance, all shaped like Let's Encrypt's.
//
// In DESIGN.md's graph pki sits under ca (ca → ca/pki). It is pure: it knows
// nothing of HTTP, JWS or ACME objects. The ca package decides what to issue
// (names, profile, key policy) and pki signs it.
//
// Typical use:
//
//	h, err := pki.New(cfg, pki.Deps{Clock: clk})
//	leaf, err := h.Issue(pki.LeafRequest{PublicKey: csr.PublicKey, DNSNames: names, Profile: prof})
//	chains := h.Chains(leaf.Issuer.ID) // default chain first, then alternates
//
// A Hierarchy holds two roots (RSA and ECDSA P-384), a copy of the ECDSA root
// cross-signed by the RSA root, and one intermediate per key type. Leaves for
// RSA keys come from the RSA intermediate; leaves for ECDSA (and Ed25519) keys
// come from the ECDSA intermediate, as Boulder's pickIssuer does.
// Config.ChainLength adds "Link" intermediates below each root,
// Config.AlternateRoots adds roots with their own chains to copies of the
// intermediates, and Config.LeafIssuer makes one intermediate sign every
// leaf in Pebble's shape (Roots()[i] is the root of its chain i). BundlePEM is
// the trust bundle that users hand to openssl, curl or a cert-manager
// ClusterIssuer's caBundle; it also verifies ServingCertificate, the TLS
// certificate of fakeca's own listeners.
//
// Revocation: CRL signs one shard of an issuer's CRL (Boulder's shape:
// critical issuingDistributionPoint naming CRLURL, which is also the leaf's
// CRLDP) from entries the caller supplies; OCSPResponse answers an RFC 6960
// request, asking the caller for the certificate's status. pki keeps no
// revocation state. RootKeyPEM and IntermediateKeyPEM expose the CA keys for
// Pebble's management endpoints.
//
// Three subject-name presets exist (see Config.Hierarchy): clearly fake
// "fakeca" names, Let's Encrypt staging names and Let's Encrypt production
// names. The keys are always fresh, so none of them chains to a real trust
// store.
//
// Time comes only from Deps.Clock, or from the now/thisUpdate arguments of
// OCSPResponse and CRL. A Hierarchy is immutable after New and safe for
// concurrent use; no method takes a lock.
package pki
