package pki

import (
	"bytes"
	"crypto"
	_ "crypto/sha1" // OCSP CertIDs are hashed with SHA-1 in the common case
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// OCSPValidity is the validity of every OCSP response: nextUpdate =
// thisUpdate + OCSPValidity. 96 hours is Boulder's lifespanOCSP (test
// configuration). Responses are signed on demand with thisUpdate = now, so a
// fresh fetch always reflects the current status; a client that caches a
// response may keep using it until nextUpdate.
const OCSPValidity = 96 * time.Hour

// OCSPStatus is what the caller knows about a certificate, returned by the
// lookup function of OCSPResponse. It is a value.
type OCSPStatus struct {
	// Revoked reports whether the certificate is revoked; if false the
	// response says "good" and the other fields are ignored.
	Revoked bool
	// RevokedAt is the revocation time. Required when Revoked.
	RevokedAt time.Time
	// Reason is the RFC 5280 CRLReason code; 0 (unspecified) is omitted from
	// the response, as from CRL entries.
	Reason int
}

// ocspIdentity is what an issuer needs to answer OCSP requests, computed
// once at New: the CertID hashes it is known by.
type ocspIdentity struct {
	ids []ocspCertID // one per hash ocsp.ParseRequest understands
}

// ocspCertID is an issuer's issuerNameHash and issuerKeyHash under one hash.
type ocspCertID struct {
	hash      crypto.Hash
	name, key []byte
}

// newOCSPIdentity precomputes the OCSP identity of an issuer certificate.
func newOCSPIdentity(cert *x509.Certificate) (ocspIdentity, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return ocspIdentity{}, fmt.Errorf("parsing public key: %w", err)
	}
	var id ocspIdentity
	for _, hf := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		id.ids = append(id.ids, ocspCertID{hash: hf,
			name: digest(hf, cert.RawSubject), key: digest(hf, spki.PublicKey.RightAlign())})
	}
	return id, nil
}

// OCSPResponse answers a DER-encoded OCSP request (RFC 6960) at time now,
// like Let's Encrypt's responders did: the issuer itself signs (no delegated
// responder, responderID byName, no certificates included), thisUpdate and
// producedAt = now, nextUpdate = now + OCSPValidity, and the response's
// CertID echoes the request's byte for byte. Only the first CertID of a
// request is answered (as ocsp.ParseRequest reads it); nonces are ignored.
//
// The issuer is found by issuerNameHash and issuerKeyHash under SHA-1 (the
// common case), SHA-256, SHA-384 or SHA-512. lookup (required) is then
// called once, on the calling goroutine and with no lock held, with the
// issuer's ID and the serial: found = false gives status "unknown", else
// "good" or "revoked".
//
// Protocol errors are answers, not Go errors: an unparsable or signed
// request yields ocsp.MalformedRequestErrorResponse and an unknown issuer
// ocsp.UnauthorizedErrorResponse, both with a nil error. A non-nil error
// (signing failed, or lookup returned a revoked status without RevokedAt or
// with an invalid reason) comes with no response; the caller should then send
// ocsp.InternalErrorErrorResponse. OCSPResponse is safe for concurrent use.
func (h *Hierarchy) OCSPResponse(req []byte, lookup func(issuerID string, serial *big.Int) (OCSPStatus, bool), now time.Time) ([]byte, error) {
	parsed, err := ocsp.ParseRequest(req)
	if err != nil || parsed.SerialNumber == nil {
		return slices.Clone(ocsp.MalformedRequestErrorResponse), nil
	}
	certID, ok := rawCertID(req)
	if !ok {
		return slices.Clone(ocsp.MalformedRequestErrorResponse), nil
	}
	iss := h.ocspIssuer(parsed)
	if iss == nil {
		return slices.Clone(ocsp.UnauthorizedErrorResponse), nil
	}
	st, found := lookup(iss.ID, parsed.SerialNumber)
	der, err := iss.ocspResponse(h.rand, certID, st, found, now)
	if err != nil {
		return nil, fmt.Errorf("pki: OCSP response for serial %s from %q: %w",
			SerialString(parsed.SerialNumber), iss.ID, err)
	}
	return der, nil
}

// ocspIssuer returns the issuer a request names, or nil.
func (h *Hierarchy) ocspIssuer(req *ocsp.Request) *Issuer {
	for _, iss := range h.Issuers() {
		for _, id := range iss.ocsp.ids {
			if id.hash == req.HashAlgorithm && bytes.Equal(id.name, req.IssuerNameHash) &&
				bytes.Equal(id.key, req.IssuerKeyHash) {
				return iss
			}
		}
	}
	return nil
}

// rawCertID returns the DER of the first CertID of an OCSP request:
//
//	OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, [0] Signature OPTIONAL }
//	TBSRequest  ::= SEQUENCE { [0] version OPTIONAL, [1] requestorName OPTIONAL,
//	                           requestList SEQUENCE OF Request, [2] exts OPTIONAL }
//	Request     ::= SEQUENCE { reqCert CertID, [0] exts OPTIONAL }
func rawCertID(req []byte) ([]byte, bool) {
	var outer, tbs, list, first, certID cryptobyte.String
	in := cryptobyte.String(req)
	ok := in.ReadASN1(&outer, cbasn1.SEQUENCE) &&
		outer.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		tbs.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) &&
		tbs.ReadASN1(&list, cbasn1.SEQUENCE) &&
		list.ReadASN1(&first, cbasn1.SEQUENCE) &&
		first.ReadASN1Element(&certID, cbasn1.SEQUENCE)
	return certID, ok
}

// ocspResponse builds and signs a successful OCSP response (RFC 6960 §4.2.1).
func (iss *Issuer) ocspResponse(r io.Reader, certID []byte, st OCSPStatus, found bool, now time.Time) ([]byte, error) {
	if found && st.Revoked {
		if st.RevokedAt.IsZero() {
			return nil, errors.New("revoked status without a revocation time")
		}
		if st.Reason < 0 || st.Reason > 10 || st.Reason == 7 {
			return nil, fmt.Errorf("invalid revocation reason %d", st.Reason)
		}
	}
	now = now.UTC()
	tbs, err := iss.responseData(certID, st, found, now)
	if err != nil {
		return nil, err
	}
	basic, err := iss.sign(r, tbs)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPResponse
		b.AddASN1Enum(int64(ocsp.Success))
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseBytes
				b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}) // id-pkix-ocsp-basic
				b.AddASN1OctetString(basic)                                                     // BasicOCSPResponse
			})
		})
	})
	return b.Bytes()
}

// responseData encodes the signed part of a response (RFC 6960 §4.2.1,
// explicit tags except in CertStatus):
//
//	ResponseData ::= SEQUENCE { responderID [1] Name, producedAt,
//	  responses SEQUENCE OF SEQUENCE { certID, certStatus, thisUpdate,
//	  [0] nextUpdate } }
func (iss *Issuer) responseData(certID []byte, st OCSPStatus, found bool, now time.Time) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddBytes(iss.Cert.RawSubject) // byName, as ocsp.CreateResponse (Boulder) does
		})
		b.AddASN1GeneralizedTime(now)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SingleResponse
				b.AddBytes(certID)
				addCertStatus(b, st, found)
				b.AddASN1GeneralizedTime(now)
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1GeneralizedTime(now.Add(OCSPValidity))
				})
			})
		})
	})
	return b.Bytes()
}

// addCertStatus encodes CertStatus ::= CHOICE { good [0] IMPLICIT NULL,
// revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }, where
// RevokedInfo ::= SEQUENCE { revocationTime, [0] EXPLICIT CRLReason OPTIONAL }.
func addCertStatus(b *cryptobyte.Builder, st OCSPStatus, found bool) {
	switch {
	case !found:
		b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
	case !st.Revoked:
		b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
	default:
		b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1GeneralizedTime(st.RevokedAt.UTC())
			if st.Reason != 0 {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1Enum(int64(st.Reason))
				})
			}
		})
	}
}
