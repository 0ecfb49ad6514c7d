package ca

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/store"
)

// Challenge texts (Boulder wfe2/wfe.go, ra/ra.go).
const (
	detailNoSuchChallenge  = "No such challenge"
	detailChallengePayload = "Unable to unmarshal challenge request body"
	detailAuthzNotPending  = "Unable to update challenge :: authorization must be pending"
)

// validationTimeout bounds one validation job.
const validationTimeout = 90 * time.Second

// challenge handles GET / POST-as-GET of a challenge and, for a POST with
// a JSON object, starts its validation (RFC 8555 §7.5.1).
func (s *Server) challenge(w http.ResponseWriter, r *http.Request) error {
	a, req, err := s.authzFromURL(r, "authz")
	if err != nil {
		return err
	}
	idx := findChallenge(a, mux.Vars(r)["chal"])
	if idx < 0 {
		return acme.New(acme.NotFound, detailNoSuchChallenge)
	}
	now := s.clock.Now()
	if authzStatus(a, now) == acme.StatusExpired {
		return acme.New(acme.NotFound, detailExpiredAuthz)
	}
	if _, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpChallenge, AccountID: a.AccountID,
		Identifiers: []acme.Identifier{displayIdent(a)}, Profile: s.profileName(a.Profile)}); err != nil {
		return err
	}
	if len(req.payload) > 0 {
		if s.cfg.Strict && string(bytes.TrimSpace(req.payload)) != "{}" {
			return acme.New(acme.Malformed, detailStrictChallenge)
		}
		var body map[string]any
		if err := json.Unmarshal(req.payload, &body); err != nil {
			return acme.New(acme.Malformed, detailChallengePayload)
		}
		if a, err = s.startValidation(r, req.acct, a, idx); err != nil {
			return err
		}
	}
	l := s.linkerFor(r)
	w.Header().Add("Link", link(l.authz(a.AccountID, a.ID), "up"))
	w.Header().Set("Location", l.challenge(a.AccountID, a.ID, challengeID(a.Challenges[idx])))
	writeJSON(w, "application/json", http.StatusOK, s.renderChallenge(l, a, a.Challenges[idx]))
	return nil
}

// displayIdent is the authorization's identifier as the order names it
// ("*." restored for a wildcard).
func displayIdent(a store.Authorization) acme.Identifier {
	id := a.Identifier
	if a.Wildcard {
		id.Value = "*." + id.Value
	}
	return id
}

func findChallenge(a store.Authorization, id string) int {
	for i, c := range a.Challenges {
		if challengeID(c) == id {
			return i
		}
	}
	return -1
}

// startValidation marks the challenge as being validated and queues the
// validation. A valid authorization, or a challenge already being
// validated, is returned unchanged, so a client that retries its POST does
// not start a second validation.
func (s *Server) startValidation(r *http.Request, acct store.Account, a store.Authorization, idx int) (store.Authorization, error) {
	switch {
	case a.Status == acme.StatusValid, a.Challenges[idx].Status == acme.StatusProcessing:
		return a, nil
	case a.Status != acme.StatusPending:
		return a, acme.New(acme.Malformed, detailAuthzNotPending)
	}
	started := false
	acctURI := s.linkerFor(r).account(acct.ID)
	a, err := s.store.UpdateAuthz(r.Context(), a.ID, func(cur *store.Authorization) error {
		c := &cur.Challenges[idx]
		if cur.Status != acme.StatusPending || c.Status != acme.StatusPending {
			return nil // lost a race: show what is there
		}
		started = true
		c.Status, c.AccountURI = acme.StatusProcessing, acctURI
		return nil
	})
	if err != nil || !started {
		return a, err
	}
	vr, err := s.validationRequest(acct, a, idx)
	if err != nil {
		return a, err
	}
	s.record(events.Event{Kind: events.ChallengeStarted, Account: a.AccountID, Authz: a.ID,
		Identifiers: []acme.Identifier{vr.Identifier}, Challenge: vr.Type}, nil)
	return a, s.enqueueValidation(r.Context(), a, idx, vr)
}

// validationRequest is what the validator needs for challenge idx of a,
// which belongs to acct: the key authorization uses the account key's
// thumbprint, and the account URL is the one stored with the challenge.
func (s *Server) validationRequest(acct store.Account, a store.Authorization, idx int) (challengeval.Request, error) {
	jwk, err := s.accountKey(acct)
	if err != nil {
		return challengeval.Request{}, err
	}
	thumb, err := keyID(jwk)
	if err != nil {
		return challengeval.Request{}, err
	}
	c := a.Challenges[idx]
	return challengeval.Request{Type: c.Type, Identifier: a.Identifier, Wildcard: a.Wildcard, Token: c.Token,
		KeyAuthorization: c.Token + "." + thumb, AccountURI: c.AccountURI}, nil
}

// enqueueValidation queues the validation of challenge idx of a, unless
// one of a is already queued or running in this process (see claims).
func (s *Server) enqueueValidation(ctx context.Context, a store.Authorization, idx int, vr challengeval.Request) error {
	id := a.ID
	if !s.claims.claim(claimAuthz, id) {
		return nil
	}
	fr := faults.Request{Operation: faults.OpValidation, Identifiers: []acme.Identifier{displayIdent(a)},
		AccountID: a.AccountID, Profile: s.profileName(a.Profile)}
	err := s.enqueue(ctx, func(ctx context.Context) {
		defer s.claims.release(claimAuthz, id)
		s.validate(ctx, id, idx, vr, fr)
	})
	if err != nil {
		s.claims.release(claimAuthz, id)
	}
	return err
}

// validate runs one validation and records its outcome on the challenge and
// the authorization.
func (s *Server) validate(ctx context.Context, authzID int64, idx int, vr challengeval.Request, fr faults.Request) {
	ctx, cancel := context.WithTimeout(ctx, validationTimeout)
	defer cancel()
	before, gerr := s.store.GetAuthz(ctx, authzID)
	if gerr == nil && !before.Unfinished() {
		return // deactivated meanwhile, or a resumed job that came late
	}
	verr := s.faultedValidation(ctx, fr, func() error { return s.safeValidate(ctx, vr) })
	if gerr == nil {
		// Counted before it is recorded, as Boulder's PerformValidation
		// does, so a client that sees the authorization invalid also
		// meets the failure's limits (and a pause) on its next order.
		s.countValidation(ctx, before, verr)
	}
	now := s.clock.Now().UTC()
	recorded := false
	a, err := s.store.UpdateAuthz(ctx, authzID, func(a *store.Authorization) error {
		recorded = false
		c := &a.Challenges[idx]
		if c.Status != acme.StatusProcessing || a.Status != acme.StatusPending {
			return nil // deactivated meanwhile
		}
		to := acme.StatusValid
		if verr != nil {
			to = acme.StatusInvalid
		}
		if err := transition(a.Status, to); err != nil {
			return err
		}
		if err := transition(c.Status, to); err != nil {
			return err
		}
		a.Status, c.Status, c.Validated = to, to, now
		recorded = true
		if verr != nil {
			c.Error = storedProblem(verr)
			return nil
		}
		a.Expires = now.Add(s.cfg.Profiles[s.profileName(a.Profile)].ValidAuthzLifetime)
		return nil
	})
	attrs := []any{"authz", authzID, "identifier", vr.Identifier.Value, "challenge", vr.Type}
	if verr != nil {
		attrs = append(attrs, "problem", verr.Error())
	}
	if err != nil {
		s.log.Error("recording validation", append(attrs, "err", err)...)
		return
	}
	s.log.Info("validation", attrs...)
	if recorded {
		kind := events.ValidationSucceeded
		if verr != nil {
			kind = events.ValidationFailed
		}
		s.record(events.Event{Kind: kind, Account: a.AccountID, Authz: a.ID,
			Identifiers: []acme.Identifier{vr.Identifier}, Challenge: vr.Type}, verr)
		s.metrics.validation(vr.Type, verr)
	}
}

// countValidation feeds a validation outcome to the rate limiter: a
// failure spends the failed-authorization and pausing buckets, a success
// resets the pausing one (reference §1.4, §2.3).
func (s *Server) countValidation(ctx context.Context, a store.Authorization, verr error) {
	var err error
	if verr != nil {
		err = s.limiter.AuthzFailed(ctx, a.AccountID, a.Identifier)
	} else {
		err = s.limiter.AuthzValid(ctx, a.AccountID, a.Identifier)
	}
	if err != nil {
		s.log.Warn("rate limiter", "authz", a.ID, "err", err)
	}
}

// safeValidate runs the validator; a panic fails the challenge with
// serverInternal instead of leaving it processing for ever.
func (s *Server) safeValidate(ctx context.Context, vr challengeval.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("validator panicked", "identifier", vr.Identifier.Value, "panic", fmt.Sprint(p))
			err = acme.New(acme.ServerInternal, detailInternal)
		}
	}()
	return s.validator.Validate(ctx, vr)
}

// profileName resolves "" to the default profile.
func (s *Server) profileName(requested string) string {
	if requested == "" {
		return s.cfg.DefaultProfile
	}
	return requested
}
