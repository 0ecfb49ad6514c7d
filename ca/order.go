package ca

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/store"
)

// New-order and order texts (reference §4.1, §8).
const (
	prefixNewOrder           = "Error creating new order"
	prefixInvalidIdentifiers = "Invalid identifiers requested"
	detailOrderPayload       = "Unable to unmarshal NewOrder request body"
	detailNoIdentifiers      = "NewOrder request did not specify any identifiers"
	detailNoValidity         = "NotBefore and NotAfter are not supported"
	detailEmptyIdentifier    = "NewOrder request included empty identifier"
	detailUnsupportedIdent   = "NewOrder request included unsupported identifier: type %q, value %q"
	detailBadValidityTime    = "Invalid %s: must be an RFC 3339 timestamp"
	detailUnknownProfile     = "profile name %q not recognized"
	detailNoSuchOrder        = "No order for ID %d"
	detailOrderWrongAccount  = "No order found for account ID %d"
	detailOrderNotOwner      = "User account ID doesn't match account ID in order"
)

// newOrder handles POST /acme/new-order (RFC 8555 §7.4).
func (s *Server) newOrder(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verifyPOST(r, byKID)
	if err != nil {
		return err
	}
	var body newOrderRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return acme.New(acme.Malformed, detailOrderPayload)
	}
	ev := eventFrom(r)
	ev.idents = body.Identifiers
	if _, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpNewOrder, Identifiers: body.Identifiers,
		AccountID: req.acct.ID, Profile: s.profileName(body.Profile)}); err != nil {
		return err
	}
	order, err := s.placeOrder(r.Context(), req.acct, body)
	if err != nil {
		s.recordRejection("", events.Event{Account: req.acct.ID, Identifiers: body.Identifiers}, err)
		return err
	}
	ev.order = order.ID
	authzs, err := s.store.GetAuthzs(r.Context(), order.AuthzIDs)
	if err != nil {
		return err
	}
	l := s.linkerFor(r)
	w.Header().Set("Location", l.order(order.AccountID, order.ID))
	writeJSON(w, "application/json", http.StatusCreated, s.renderOrder(l, order, authzs))
	return nil
}

// orderRequest is a checked new-order request.
type orderRequest struct {
	idents      []acme.Identifier
	profileName string // as requested; "" means the default
	profile     Profile
	notBefore   time.Time
	notAfter    time.Time
	replaces    string
}

// checkOrderRequest applies Boulder's new-order checks in its order.
func (s *Server) checkOrderRequest(body newOrderRequest) (orderRequest, error) {
	if len(body.Identifiers) == 0 {
		return orderRequest{}, acme.New(acme.Malformed, detailNoIdentifiers)
	}
	or := orderRequest{profileName: body.Profile, replaces: body.Replaces}
	if body.NotBefore != "" || body.NotAfter != "" {
		if !s.cfg.AllowOrderValidity {
			return orderRequest{}, acme.New(acme.Malformed, detailNoValidity)
		}
		var err error
		if or.notBefore, err = parseOptionalTime("notBefore", body.NotBefore); err != nil {
			return orderRequest{}, err
		}
		if or.notAfter, err = parseOptionalTime("notAfter", body.NotAfter); err != nil {
			return orderRequest{}, err
		}
	}
	for _, id := range body.Identifiers {
		if id.Value == "" {
			return orderRequest{}, acme.New(acme.Malformed, detailEmptyIdentifier)
		}
		if id.Type != acme.TypeDNS && id.Type != acme.TypeIP {
			return orderRequest{}, acme.New(acme.UnsupportedIdentifier, detailUnsupportedIdent, id.Type, id.Value)
		}
	}
	or.idents = policy.Canonical(body.Identifiers)
	if err := s.policy.WellFormed(or.idents); err != nil {
		return orderRequest{}, withPrefix(err, prefixInvalidIdentifiers)
	}
	name := body.Profile
	if name == "" {
		name = s.cfg.DefaultProfile
	}
	p, ok := s.cfg.Profiles[name]
	if !ok {
		return orderRequest{}, acme.New(acme.InvalidProfile, detailUnknownProfile, body.Profile).WithPrefix(prefixNewOrder)
	}
	or.profile = p
	// Boulder's order: profile limits, then policy (blocklist), then
	// wildcard redundancy, all under the new-order prefix.
	if err := policy.CheckProfileIdentifiers(or.idents, body.Profile, p.AllowIP, p.MaxNames); err != nil {
		return orderRequest{}, withPrefix(err, prefixNewOrder)
	}
	if err := s.policy.CheckIdentifiers(or.idents); err != nil {
		return orderRequest{}, withPrefix(err, prefixNewOrder)
	}
	if err := policy.CheckWildcardRedundancy(or.idents); err != nil {
		return orderRequest{}, withPrefix(err, prefixNewOrder)
	}
	return or, nil
}

func parseOptionalTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, acme.New(acme.Malformed, detailBadValidityTime, field)
	}
	return t, nil
}

// placeOrder returns a reusable order or creates a new one, reusing valid
// authorizations as Boulder does.
func (s *Server) placeOrder(ctx context.Context, acct store.Account, body newOrderRequest) (store.Order, error) {
	or, err := s.checkOrderRequest(body)
	if err != nil {
		return store.Order{}, err
	}
	lreq := ratelimit.NewOrderRequest{AccountID: acct.ID, Identifiers: or.idents}
	if body.Replaces != "" {
		lreq.Replaces = func(ctx context.Context) (bool, error) {
			return s.checkReplaces(ctx, acct, or.idents, body.Replaces)
		}
	}
	refund, err := s.limiter.NewOrder(ctx, lreq)
	if err != nil {
		return store.Order{}, err
	}
	o, err := s.createOrReuseOrder(ctx, acct, or, body.Replaces)
	if err != nil {
		refund()
	}
	return o, err
}

// createOrReuseOrder returns a reusable order or creates one, with its
// new authorizations.
func (s *Server) createOrReuseOrder(ctx context.Context, acct store.Account, or orderRequest, replaces string) (store.Order, error) {
	now := s.clock.Now().UTC()
	if o, ok := s.reusableOrder(ctx, acct.ID, or, now); ok {
		s.metrics.order(orderReused)
		s.record(events.Event{Kind: events.OrderReused, Account: acct.ID, Order: o.ID, Identifiers: o.Identifiers}, nil)
		return o, nil
	}
	order := store.Order{AccountID: acct.ID, Identifiers: or.idents, Profile: or.profileName,
		Replaces: replaces, Created: now, Expires: now.Add(or.profile.OrderLifetime),
		NotBefore: or.notBefore, NotAfter: or.notAfter}
	minLife := clampDuration(or.profile.OrderLifetime/8, time.Hour, 24*time.Hour)
	var fresh []store.Authorization
	for _, id := range or.idents {
		if s.reuseAuthz() {
			key := store.AuthzKey{AccountID: acct.ID, Identifier: id.Base(), Wildcard: id.IsWildcard(), Profile: or.profileName}
			a, err := s.store.FindValidAuthz(ctx, key, now.Add(minLife))
			switch {
			case err == nil && !solvedBy(a, acme.ChallengeDNSPersist01): // those are never reused (reference §8)
				order.AuthzIDs = append(order.AuthzIDs, a.ID)
				order.Expires = minTime(order.Expires, a.Expires)
				continue
			case err != nil && !errors.Is(err, store.ErrNotFound):
				return store.Order{}, err
			}
		}
		na, err := newAuthz(acct.ID, id, or.profileName, s.cfg.Challenges, now, now.Add(or.profile.PendingAuthzLifetime))
		if err != nil {
			return store.Order{}, err
		}
		fresh = append(fresh, na)
		order.Expires = minTime(order.Expires, na.Expires)
	}
	created, err := s.store.CreateOrder(ctx, order, fresh)
	if err == nil {
		s.metrics.order(orderCreated)
		s.record(events.Event{Kind: events.OrderCreated, Account: acct.ID, Order: created.ID,
			Identifiers: created.Identifiers, Message: "profile " + s.profileName(created.Profile)}, nil)
	}
	if err != nil || replaces == "" {
		return created, err
	}
	return created, s.recordReplacement(ctx, replaces, created.ID)
}

// reuseAuthz decides whether this order may reuse valid authorizations
// (always, unless AuthzReusePercent is below 100).
func (s *Server) reuseAuthz() bool {
	return s.cfg.AuthzReusePercent >= 100 || mrand.IntN(100) < s.cfg.AuthzReusePercent
}

// reusableOrder finds an unexpired pending or ready order of the account
// for the same identifiers and profile string (Boulder's GetOrderForNames).
func (s *Server) reusableOrder(ctx context.Context, acct int64, or orderRequest, now time.Time) (store.Order, bool) {
	// An order that replaces a certificate is never answered with an
	// older order that does not, or the replacement would go unrecorded
	// (Boulder's exact behaviour here is unverified).
	if !or.notBefore.IsZero() || !or.notAfter.IsZero() || or.replaces != "" {
		return store.Order{}, false
	}
	o, err := s.store.FindReusableOrder(ctx, store.OrderKey{AccountID: acct, Identifiers: or.idents, Profile: or.profileName}, now)
	if err != nil || o.Replaces != "" {
		return store.Order{}, false
	}
	authzs, err := s.store.GetAuthzs(ctx, o.AuthzIDs)
	if err != nil {
		return store.Order{}, false
	}
	switch orderStatus(o, authzs, now) {
	case acme.StatusPending, acme.StatusReady:
		return o, true
	}
	return store.Order{}, false
}

// newAuthz builds a pending authorization with the challenges the policy
// offers, in a fixed order.
func newAuthz(acct int64, id acme.Identifier, profile string, opts policy.Options, now, expires time.Time) (store.Authorization, error) {
	a := store.Authorization{AccountID: acct, Identifier: id.Base(), Wildcard: id.IsWildcard(),
		Profile: profile, Status: acme.StatusPending, Created: now, Expires: expires}
	token, err := newToken()
	if err != nil {
		return a, err
	}
	// One token for all challenges of an authorization, as Boulder does.
	for _, t := range policy.ChallengeTypesWith(id, opts) {
		a.Challenges = append(a.Challenges, store.Challenge{Type: t, Token: token, Status: acme.StatusPending})
	}
	return a, nil
}

// solvedBy reports whether a valid authorization was solved by a challenge
// of the given type.
func solvedBy(a store.Authorization, typ string) bool {
	for _, c := range a.Challenges {
		if c.Status == acme.StatusValid {
			return c.Type == typ
		}
	}
	return false
}

func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return b64Encode(b[:]), nil
}

// getOrder handles GET and POST-as-GET of /acme/order/<acct>/<id>.
func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	o, err := s.orderFromURL(r)
	if err != nil {
		return err
	}
	authzs, err := s.store.GetAuthzs(r.Context(), o.AuthzIDs)
	if err != nil {
		return err
	}
	fault, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpOrder, Identifiers: o.Identifiers,
		AccountID: o.AccountID, Profile: s.profileName(o.Profile)})
	if err != nil {
		return err
	}
	s.writeOrderAs(w, s.linkerFor(r), o, authzs, fault.Stuck)
	return nil
}

// orderFromURL loads the order named by the URL and, for POST-as-GET,
// checks that the requester owns it.
func (s *Server) orderFromURL(r *http.Request) (store.Order, error) {
	if r.Method != http.MethodPost {
		return s.orderByVars(r, 0)
	}
	req, err := s.verifyPostAsGet(r)
	if err != nil {
		return store.Order{}, err
	}
	return s.orderByVars(r, req.acct.ID)
}

// orderByVars loads /…/<acct>/<id>; requester, when not 0, must be <acct>.
func (s *Server) orderByVars(r *http.Request, requester int64) (store.Order, error) {
	vars := mux.Vars(r)
	acct, _ := strconv.ParseInt(vars["acct"], 10, 64)
	id, _ := strconv.ParseInt(vars["id"], 10, 64)
	eventFrom(r).order = id
	if requester != 0 && requester != acct {
		return store.Order{}, acme.New(acme.Unauthorized, detailOrderNotOwner)
	}
	o, err := s.store.GetOrder(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Order{}, acme.New(acme.NotFound, detailNoSuchOrder, id)
	}
	if err != nil {
		return store.Order{}, err
	}
	if o.AccountID != acct {
		return store.Order{}, acme.New(acme.NotFound, detailOrderWrongAccount, acct)
	}
	return o, nil
}

// writeOrder renders an order with Location and, while it is processing,
// Retry-After: cfg.RetryAfterOrder (Boulder's 3 s by default).
func (s *Server) writeOrder(w http.ResponseWriter, l linker, o store.Order, authzs []store.Authorization) {
	s.writeOrderAs(w, l, o, authzs, "")
}

// writeOrderAs is writeOrder for an order a fault holds back: a ready
// order is shown with the stuck status (pending or ready) instead.
func (s *Server) writeOrderAs(w http.ResponseWriter, l linker, o store.Order, authzs []store.Authorization, stuck acme.Status) {
	body := s.renderOrder(l, o, authzs)
	if stuck == acme.StatusPending && body.Status == acme.StatusReady {
		body.Status = acme.StatusPending
	}
	w.Header().Set("Location", l.order(o.AccountID, o.ID))
	if body.Status == acme.StatusProcessing {
		setRetryAfter(w, s.cfg.RetryAfterOrder)
	}
	writeJSON(w, "application/json", http.StatusOK, body)
}

func (s *Server) renderOrder(l linker, o store.Order, authzs []store.Authorization) orderJSON {
	out := orderJSON{Status: orderStatus(o, authzs, s.clock.Now()), Expires: o.Expires,
		Identifiers: o.Identifiers, Profile: o.Profile, Replaces: o.Replaces,
		Finalize: l.finalize(o.AccountID, o.ID), Error: renderStored(o.Error)}
	for _, id := range o.AuthzIDs {
		out.Authorizations = append(out.Authorizations, l.authz(o.AccountID, id))
	}
	if !o.NotBefore.IsZero() {
		out.NotBefore = &o.NotBefore
	}
	if !o.NotAfter.IsZero() {
		out.NotAfter = &o.NotAfter
	}
	if out.Status == acme.StatusValid {
		out.Certificate = l.cert(o.CertSerial)
	}
	return out
}

// withPrefix adds Boulder's "<endpoint> :: " prefix to an *acme.Error.
func withPrefix(err error, prefix string) error {
	if e, ok := acme.As(err); ok {
		return e.WithPrefix(prefix)
	}
	return err
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// setRetryAfter sets Retry-After to d in whole seconds (rounded up); 0
// sets none.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}
