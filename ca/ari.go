package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/store"
)

// ARI texts (reference §6).
const (
	prefixARICertID        = "While parsing ARI CertID an error occurred"
	prefixReplaces         = "Could not validate ARI 'replaces' field"
	detailARIInvalidPath   = "Invalid path"
	detailARIUnknownIssuer = "path contained an Authority Key Identifier that did not match a known issuer"
	detailARINotFound      = "Requested certificate was not found"
	detailAlreadyReplaced  = "cannot indicate an order replaces certificate with serial %q, which already has a replacement order"
	detailReplacesNoCert   = "request included `replaces` field, but no current certificate with serial %q exists"
	detailReplacesAccount  = "requester account did not request the certificate being replaced by this order"
	detailReplacesNoMatch  = "identifiers in this order do not match any identifiers in the certificate being replaced"
)

// parseCertID splits an ARI certID (base64url(AKI) "." base64url(serial))
// and returns the serial as 36 hex digits.
func (s *Server) parseCertID(id string) (string, error) {
	aki, ser, ok := strings.Cut(id, ".")
	if !ok || aki == "" || ser == "" || strings.Contains(ser, ".") {
		return "", acme.New(acme.Malformed, detailARIInvalidPath).WithPrefix(prefixARICertID)
	}
	akiBytes, err := b64Decode(aki)
	if err != nil {
		return "", acme.New(acme.Malformed, "%s", err.Error()).WithPrefix(prefixARICertID)
	}
	if _, ok := s.pki.IssuerBySKID(akiBytes); !ok {
		return "", acme.New(acme.NotFound, detailARIUnknownIssuer).WithPrefix(prefixARICertID)
	}
	serBytes, err := b64Decode(ser)
	if err != nil {
		return "", acme.New(acme.Malformed, "%s", err.Error()).WithPrefix(prefixARICertID)
	}
	return pki.SerialString(new(big.Int).SetBytes(serBytes)), nil
}

// renewalInfo serves GET /acme/renewal-info/<certID> (RFC 9773).
func (s *Server) renewalInfo(w http.ResponseWriter, r *http.Request) error {
	serial, err := s.parseCertID(mux.Vars(r)["certID"])
	if err != nil {
		return err
	}
	cert, err := s.store.GetCertificate(r.Context(), serial)
	if errors.Is(err, store.ErrNotFound) {
		return acme.New(acme.NotFound, detailARINotFound)
	}
	if err != nil {
		return err
	}
	eventFrom(r).serial = serial
	if b, ok := s.renewalOverrides.get(serial); ok {
		writeRenewalOverride(w, b)
		return nil
	}
	var body renewalInfoJSON
	now := s.clock.Now()
	if inc, ok := s.incidents.match(cert); ok {
		body.SuggestedWindow.Start, body.SuggestedWindow.End = immediateWindow(now)
		body.ExplanationURL = inc.ExplanationURL
	} else {
		body.SuggestedWindow.Start, body.SuggestedWindow.End = renewalWindow(cert, now)
	}
	// 6 hours ± 20 %, in whole seconds (Boulder's jitterRetryHeader).
	w.Header().Set("Retry-After", strconv.Itoa(17280+rand.IntN(25920-17280+1)))
	writeJSON(w, "application/json", http.StatusOK, body)
	return nil
}

// renewalWindow is Boulder's RenewalInfoSimple, or the immediate window
// for a revoked certificate (reference §6).
func renewalWindow(c store.Certificate, now time.Time) (time.Time, time.Time) {
	if c.Revoked {
		return immediateWindow(now)
	}
	validity := c.Expires.Add(time.Second).Sub(c.Issued)
	offset := validity / 3
	if validity < 10*24*time.Hour {
		offset = validity / 2
	}
	ideal := c.Expires.Add(-offset)
	margin := validity / 100
	return ideal.Add(-margin).Truncate(time.Second).UTC(), ideal.Add(margin).Truncate(time.Second).UTC()
}

// immediateWindow is Boulder's RenewalInfoImmediate: a window wholly in
// the past, so every ARI client renews at once.
func immediateWindow(now time.Time) (time.Time, time.Time) {
	return now.Add(-time.Hour).Truncate(time.Second).UTC(), now.Add(-30 * time.Minute).Truncate(time.Second).UTC()
}

// checkReplaces validates an order's ARI "replaces" field
// (Boulder validateReplacementOrder and orderMatchesReplacement).
//
// It reports whether now is inside the replaced certificate's suggested
// window, which exempts the order from rate limits (reference §1.5).
func (s *Server) checkReplaces(ctx context.Context, acct store.Account, idents []acme.Identifier, certID string) (bool, error) {
	serial, err := s.parseCertID(certID)
	if err != nil {
		if e, ok := acme.As(err); ok {
			e2 := *e
			e2.Detail = prefixReplaces + " :: " + e.Detail
			return false, &e2
		}
		return false, err
	}
	cert, err := s.store.GetCertificate(ctx, serial)
	if errors.Is(err, store.ErrNotFound) {
		return false, acme.New(acme.NotFound, detailReplacesNoCert, serial)
	}
	if err != nil {
		return false, err
	}
	if cert.ReplacementOrder != 0 {
		if replaced, err := s.hasLiveReplacement(ctx, cert.ReplacementOrder); err != nil || replaced {
			if err != nil {
				return false, err
			}
			return false, acme.New(acme.AlreadyReplaced, detailAlreadyReplaced, serial)
		}
	}
	if cert.AccountID != acct.ID {
		return false, acme.New(acme.Unauthorized, detailReplacesAccount)
	}
	parsed, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return false, err
	}
	for _, id := range idents {
		if parsed.VerifyHostname(id.Value) == nil {
			now := s.clock.Now()
			start, end := renewalWindow(cert, now)
			return !now.Before(start) && now.Before(end), nil
		}
	}
	return false, acme.New(acme.Malformed, detailReplacesNoMatch)
}

// hasLiveReplacement reports whether the replacement order is unexpired
// and pending, ready, processing or valid.
func (s *Server) hasLiveReplacement(ctx context.Context, orderID int64) (bool, error) {
	o, err := s.store.GetOrder(ctx, orderID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	authzs, err := s.store.GetAuthzs(ctx, o.AuthzIDs)
	if err != nil {
		return false, err
	}
	return orderStatus(o, authzs, s.clock.Now()) != acme.StatusInvalid, nil
}

// recordReplacement notes the order as the certificate's replacement.
func (s *Server) recordReplacement(ctx context.Context, certID string, orderID int64) error {
	serial, err := s.parseCertID(certID)
	if err != nil {
		return err
	}
	_, err = s.store.UpdateCertificate(ctx, serial, func(c *store.Certificate) error {
		c.ReplacementOrder = orderID
		return nil
	})
	return err
}
