package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/store"
)

// Revocation reasons a subscriber may give (RFC 5280 §5.3.1; Boulder
// revocation/reasons.go UserAllowedReason).
const (
	reasonUnspecified          = 0
	reasonKeyCompromise        = 1
	reasonSuperseded           = 4
	reasonCessationOfOperation = 5
)

// Revocation texts (reference §5.3).
const (
	prefixRevoke            = "Unable to revoke"
	detailRevokePayload     = "Unable to JSON parse revoke request"
	detailRevokeBadCert     = "Unable to decode certificate"
	detailUnknownIssuer     = "Certificate from unrecognized issuer"
	detailRevokeNoSuchCert  = "No such certificate"
	detailBadReason         = "disallowed revocation reason: %d"
	detailCertExpired       = "Certificate is expired"
	detailAlreadyRevoked    = "no certificate with serial %s and status other than revoked"
	detailAlreadyKeyComp    = "unable to re-revoke serial %q which is already revoked for keyCompromise"
	detailNotAllIdentifiers = "requester does not control all identifiers in cert with serial %q"
	detailRevokeJWKMismatch = "JWK embedded in revocation request must be the same public key as the cert to be revoked"
)

// revoke handles POST /acme/revoke-cert (RFC 8555 §7.6), authorised by
// the issuing account, an account controlling every identifier, or the
// certificate's own key.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verifyPOST(r, byEither)
	if err != nil {
		return err
	}
	var body revokeRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return acme.New(acme.Malformed, detailRevokePayload)
	}
	der, err := b64Decode(body.Certificate)
	if err != nil {
		return acme.New(acme.Malformed, detailRevokeBadCert)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return acme.New(acme.Malformed, detailRevokeBadCert)
	}
	if _, ok := s.pki.IssuerOf(parsed); !ok {
		return acme.New(acme.NotFound, detailUnknownIssuer).WithPrefix(prefixRevoke)
	}
	cert, err := s.store.GetCertificate(r.Context(), certSerial(parsed))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !bytes.Equal(cert.DER, der)) {
		return acme.New(acme.NotFound, detailRevokeNoSuchCert)
	}
	if err != nil {
		return err
	}
	eventFrom(r).serial = cert.Serial
	if _, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpRevoke, AccountID: req.acct.ID,
		Identifiers: cert.Identifiers}); err != nil {
		return err
	}
	reason, err := s.authorizeRevocation(r.Context(), req, cert, body.Reason)
	if err != nil {
		return err
	}
	if !s.clock.Now().Before(cert.Expires) {
		return acme.New(acme.Unauthorized, detailCertExpired).WithPrefix(prefixRevoke)
	}
	if err := s.markRevoked(r.Context(), cert.Serial, reason); err != nil {
		return err
	}
	s.metrics.revokedCert(reason, cert.IssuerID)
	s.record(events.Event{Kind: events.CertificateRevoked, Account: cert.AccountID, Order: cert.OrderID,
		Serial: cert.Serial, Identifiers: cert.Identifiers, Message: "reason " + strconv.Itoa(reason)}, nil)
	if !req.hasAcct { // revoked with the certificate key: block it
		if err := s.store.BlockKey(r.Context(), cert.KeyHash); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// authorizeRevocation decides who may revoke and with which reason.
func (s *Server) authorizeRevocation(ctx context.Context, req signedRequest, cert store.Certificate, asked *int) (int, error) {
	reason := reasonUnspecified
	if asked != nil {
		reason = *asked
	}
	switch reason {
	case reasonUnspecified, reasonKeyCompromise, reasonSuperseded, reasonCessationOfOperation:
	default:
		return 0, acme.New(acme.BadRevocationReason, detailBadReason, reason).WithPrefix(prefixRevoke)
	}
	if !req.hasAcct {
		h, err := policy.KeyHash(req.jwk.Key)
		if err != nil || h != cert.KeyHash {
			return 0, acme.New(acme.Unauthorized, detailRevokeJWKMismatch)
		}
		return reasonKeyCompromise, nil
	}
	if req.acct.ID == cert.AccountID {
		return reason, nil
	}
	ok, err := s.controlsAll(ctx, req.acct.ID, cert.Identifiers)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, acme.New(acme.Unauthorized, detailNotAllIdentifiers, cert.Serial).WithPrefix(prefixRevoke)
	}
	return reasonCessationOfOperation, nil
}

// controlsAll reports whether the account holds a valid, unexpired
// authorization (under any profile) for every identifier.
func (s *Server) controlsAll(ctx context.Context, acct int64, ids []acme.Identifier) (bool, error) {
	profiles := []string{""}
	for n := range s.cfg.Profiles {
		profiles = append(profiles, n)
	}
	now := s.clock.Now()
	for _, id := range ids {
		found := false
		for _, p := range profiles {
			key := store.AuthzKey{AccountID: acct, Identifier: id.Base(), Wildcard: id.IsWildcard(), Profile: p}
			_, err := s.store.FindValidAuthz(ctx, key, now)
			if err == nil {
				found = true
				break
			}
			if !errors.Is(err, store.ErrNotFound) {
				return false, err
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// markRevoked records the revocation; a certificate may be revoked again
// only to upgrade the reason to keyCompromise.
func (s *Server) markRevoked(ctx context.Context, serial string, reason int) error {
	now := s.clock.Now().UTC()
	_, err := s.store.UpdateCertificate(ctx, serial, func(c *store.Certificate) error {
		if c.Revoked {
			switch {
			case reason != reasonKeyCompromise:
				return acme.New(acme.AlreadyRevoked, detailAlreadyRevoked, serial).WithPrefix(prefixRevoke)
			case c.Reason == reasonKeyCompromise:
				return acme.New(acme.AlreadyRevoked, detailAlreadyKeyComp, serial).WithPrefix(prefixRevoke)
			}
		}
		c.Revoked, c.RevokedAt, c.Reason = true, now, reason
		return nil
	})
	return err
}

func certSerial(c *x509.Certificate) string { return pki.SerialString(c.SerialNumber) }
