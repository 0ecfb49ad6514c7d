package ca

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/store"
)

// Authorization texts (Boulder wfe2/wfe.go, ra/ra.go).
const (
	detailNoSuchAuthz        = "No such authorization"
	detailExpiredAuthz       = "Expired authorization"
	detailAuthzNotOwner      = "User account ID doesn't match account ID in authorization"
	detailAuthzPayload       = "Unable to unmarshal authorization request body"
	detailAuthzBadStatus     = "Invalid status value"
	detailAuthzNotDeactivate = "Unable to deactivate authorization :: only valid and pending authorizations can be deactivated"
)

// authzFromURL loads the authorization named by /acme/authz/<acct>/<id> or
// /acme/chall/<acct>/<id>/… and authenticates POSTs; it returns the
// verified request (zero for GET).
func (s *Server) authzFromURL(r *http.Request, idVar string) (store.Authorization, signedRequest, error) {
	vars := mux.Vars(r)
	acct, _ := strconv.ParseInt(vars["acct"], 10, 64)
	id, _ := strconv.ParseInt(vars[idVar], 10, 64)
	eventFrom(r).authz = id
	var req signedRequest
	if r.Method == http.MethodPost {
		var err error
		if req, err = s.verifyPOST(r, byKID); err != nil {
			return store.Authorization{}, req, err
		}
	}
	a, err := s.store.GetAuthz(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.AccountID != acct) {
		return store.Authorization{}, req, acme.New(acme.NotFound, detailNoSuchAuthz)
	}
	if err != nil {
		return store.Authorization{}, req, err
	}
	if req.hasAcct && req.acct.ID != a.AccountID {
		return store.Authorization{}, req, acme.New(acme.Unauthorized, detailAuthzNotOwner)
	}
	eventFrom(r).idents = []acme.Identifier{a.Identifier}
	return a, req, nil
}

// authz handles GET / POST-as-GET of an authorization and its
// deactivation (RFC 8555 §7.5.2).
func (s *Server) authz(w http.ResponseWriter, r *http.Request) error {
	a, req, err := s.authzFromURL(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpAuthz, AccountID: a.AccountID,
		Identifiers: []acme.Identifier{displayIdent(a)}, Profile: s.profileName(a.Profile)}); err != nil {
		return err
	}
	now := s.clock.Now()
	if len(req.payload) > 0 {
		if a, err = s.deactivateAuthz(r, a, req.payload, now); err != nil {
			return err
		}
	} else if authzStatus(a, now) == acme.StatusExpired {
		return acme.New(acme.NotFound, detailExpiredAuthz)
	}
	if authzStatus(a, now) == acme.StatusPending {
		for _, c := range a.Challenges {
			if c.Status == acme.StatusProcessing { // Pebble's retryAfter.authz
				setRetryAfter(w, s.cfg.RetryAfterAuthz)
				break
			}
		}
	}
	writeJSON(w, "application/json", http.StatusOK, s.renderAuthz(s.linkerFor(r), a, now))
	return nil
}

func (s *Server) deactivateAuthz(r *http.Request, a store.Authorization, payload []byte, now time.Time) (store.Authorization, error) {
	var body authzUpdateRequest
	if err := json.Unmarshal(payload, &body); err != nil {
		return a, acme.New(acme.Malformed, detailAuthzPayload)
	}
	if body.Status != acme.StatusDeactivated {
		return a, acme.New(acme.Malformed, detailAuthzBadStatus)
	}
	wasPending := false
	a, err := s.store.UpdateAuthz(r.Context(), a.ID, func(cur *store.Authorization) error {
		st := authzStatus(*cur, now)
		if st != acme.StatusPending && st != acme.StatusValid {
			return acme.New(acme.Malformed, detailAuthzNotDeactivate)
		}
		if err := transition(cur.Status, acme.StatusDeactivated); err != nil {
			return err
		}
		wasPending = st == acme.StatusPending
		cur.Status = acme.StatusDeactivated
		return nil
	})
	if err == nil {
		s.metrics.deactivated()
		s.record(events.Event{Kind: events.AuthzDeactivated, Account: a.AccountID, Authz: a.ID,
			Identifiers: []acme.Identifier{a.Identifier}}, nil)
	}
	if err == nil && wasPending { // Boulder counts it as a failed authorization
		s.countValidation(r.Context(), a, errDeactivated)
	}
	return a, err
}

// errDeactivated marks a deactivated pending authorization for the limiter.
var errDeactivated = errors.New("authorization deactivated while pending")

func (s *Server) renderAuthz(l linker, a store.Authorization, now time.Time) authzJSON {
	st := authzStatus(a, now)
	out := authzJSON{Identifier: a.Identifier, Status: st, Expires: a.Expires, Wildcard: a.Wildcard}
	for _, c := range a.Challenges {
		if st == acme.StatusValid && c.Status != acme.StatusValid {
			continue // RFC 8555 §7.1.4: a valid authz lists the challenge that validated it
		}
		cj := s.renderChallenge(l, a, c)
		if st == acme.StatusInvalid {
			cj.Status = acme.StatusInvalid // Boulder shows every challenge of an invalid authz as invalid
		}
		out.Challenges = append(out.Challenges, cj)
	}
	return out
}

func (s *Server) renderChallenge(l linker, a store.Authorization, c store.Challenge) challengeJSON {
	cj := challengeJSON{Type: c.Type, URL: l.challenge(a.AccountID, a.ID, challengeID(c)),
		Status: c.Status, Token: c.Token, Error: renderStored(c.Error)}
	if c.Type == acme.ChallengeDNSPersist01 {
		cj.Token, cj.AccountURI, cj.IssuerDomainNames = "", l.account(a.AccountID), s.cfg.CAAIdentities
	}
	if c.Status == acme.StatusProcessing {
		cj.Status = acme.StatusPending // Boulder never shows "processing" on a challenge
	}
	if !c.Validated.IsZero() {
		v := c.Validated
		cj.Validated = &v
	}
	return cj
}

// challengeID is Boulder's challenge ID: base64url of the first 4 bytes of
// FNV-128a(token ‖ type), 6 characters.
func challengeID(c store.Challenge) string {
	h := fnv.New128a()
	h.Write([]byte(c.Token))
	h.Write([]byte(c.Type))
	return b64Encode(h.Sum(nil)[:4])
}
