package ca

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/store"
)

// Account texts (reference §8 "Accounts", Boulder wfe2/wfe.go and ra/ra.go).
const (
	detailAccountDeactivated = "An account with the provided public key exists but is deactivated"
	detailNoAccountForKey    = "No account exists with the provided key"
	detailMustAgreeToS       = "must agree to terms of service"
	detailAccountPayload     = "Unable to JSON parse account request"
	detailAccountNoSuch      = "Account ID in URL does not match account ID in request"
	detailBadAccountStatus   = "Invalid value provided for status field"
	detailContactNotMailto   = "contact method %q is not supported"
	detailContactBad         = "unable to parse email address"
	detailTooManyContacts    = "too many contacts provided: %d > %d"
	maxContacts              = 10
)

// newAccount handles POST /acme/new-acct (RFC 8555 §7.3).
func (s *Server) newAccount(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verifyPOST(r, byJWK)
	if err != nil {
		return err
	}
	var body newAccountRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return acme.New(acme.Malformed, detailAccountPayload)
	}
	kid, err := keyID(req.jwk)
	if err != nil {
		return err
	}
	existing, err := s.store.GetAccountByKeyID(r.Context(), kid)
	switch {
	case err == nil:
		return s.writeExistingAccount(w, r, existing)
	case !errors.Is(err, store.ErrNotFound):
		return err
	case body.OnlyReturnExisting:
		return acme.New(acme.AccountDoesNotExist, detailNoAccountForKey)
	case !body.TermsOfServiceAgreed && s.cfg.TermsOfService != "":
		return acme.New(acme.Malformed, detailMustAgreeToS)
	}
	if err := checkContacts(body.Contact); err != nil {
		return err
	}
	acct, err := s.buildAccount(r, req, body, kid)
	if err != nil {
		return err
	}
	ip, _ := netip.ParseAddr(acct.InitialIP)
	refund, err := s.limiter.NewAccount(r.Context(), ip.Unmap())
	if err != nil {
		s.recordRejection("", events.Event{}, err)
		return err
	}
	created, err := s.store.CreateAccount(r.Context(), acct)
	if err != nil {
		refund()
		if errors.Is(err, store.ErrConflict) { // a concurrent request won the race
			if existing, err = s.store.GetAccountByKeyID(r.Context(), kid); err == nil {
				return s.writeExistingAccount(w, r, existing)
			}
		}
		return err
	}
	eventFrom(r).setAccount(created.ID)
	s.record(events.Event{Kind: events.AccountCreated, Account: created.ID}, nil)
	l := s.linkerFor(r)
	w.Header().Set("Location", l.account(created.ID))
	if s.cfg.TermsOfService != "" {
		w.Header().Add("Link", link(s.cfg.TermsOfService, "terms-of-service"))
	}
	writeJSON(w, "application/json", http.StatusCreated, s.renderAccount(r, created))
	return nil
}

// writeExistingAccount answers new-account for a key that has an account:
// 200 with it, or 403 if it is deactivated.
func (s *Server) writeExistingAccount(w http.ResponseWriter, r *http.Request, a store.Account) error {
	if a.Status == acme.StatusDeactivated {
		return acme.New(acme.Unauthorized, detailAccountDeactivated)
	}
	eventFrom(r).setAccount(a.ID)
	w.Header().Set("Location", s.linkerFor(r).account(a.ID))
	writeJSON(w, "application/json", http.StatusOK, s.renderAccount(r, a))
	return nil
}

func (s *Server) buildAccount(r *http.Request, req signedRequest, body newAccountRequest, kid string) (store.Account, error) {
	eabKID, err := s.checkEAB(r, req, body.ExternalAccountBinding)
	if err != nil {
		return store.Account{}, err
	}
	jwk, err := req.jwk.MarshalJSON()
	if err != nil {
		return store.Account{}, err
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return store.Account{JWK: jwk, KeyID: kid, Status: acme.StatusValid, Contact: body.Contact,
		CreatedAt: s.clock.Now().UTC(), InitialIP: host, EABKeyID: eabKID}, nil
}

// checkContacts applies Boulder's contact rules: mailto: only, at most a
// few, parseable. LE validates contacts but no longer stores them; fakeca
// keeps them so a test can read them back.
func checkContacts(contacts []string) error {
	if len(contacts) > maxContacts {
		return acme.New(acme.Malformed, detailTooManyContacts, len(contacts), maxContacts)
	}
	for _, c := range contacts {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return acme.New(acme.UnsupportedContact, detailContactNotMailto, c)
		}
		if at := strings.LastIndexByte(addr, '@'); at < 1 || at == len(addr)-1 || strings.ContainsAny(addr, " ,<>") {
			return acme.New(acme.InvalidContact, detailContactBad)
		}
	}
	return nil
}

// account handles POST /acme/acct/<id>: POST-as-GET, contact update and
// deactivation.
func (s *Server) account(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verifyPOST(r, byKID)
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(mux.Vars(r)["acct"], 10, 64)
	if id != req.acct.ID {
		return acme.New(acme.Unauthorized, detailAccountNoSuch)
	}
	acct := req.acct
	if len(req.payload) > 0 {
		if acct, err = s.updateAccount(r, req); err != nil {
			return err
		}
	}
	w.Header().Set("Location", s.linkerFor(r).account(acct.ID))
	writeJSON(w, "application/json", http.StatusOK, s.renderAccount(r, acct))
	return nil
}

func (s *Server) updateAccount(r *http.Request, req signedRequest) (store.Account, error) {
	var body accountUpdateRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return store.Account{}, acme.New(acme.Malformed, detailAccountPayload)
	}
	switch body.Status {
	case "", acme.StatusValid:
	case acme.StatusDeactivated:
	default:
		return store.Account{}, acme.New(acme.Malformed, detailBadAccountStatus)
	}
	if body.Contact != nil {
		if err := checkContacts(*body.Contact); err != nil {
			return store.Account{}, err
		}
	}
	acct, err := s.store.UpdateAccount(r.Context(), req.acct.ID, func(a *store.Account) error {
		if body.Contact != nil {
			a.Contact = *body.Contact
		}
		if body.Status == acme.StatusDeactivated {
			a.Status = acme.StatusDeactivated
		}
		return nil
	})
	if err == nil && body.Status == acme.StatusDeactivated {
		s.record(events.Event{Kind: events.AccountDeactivated, Account: acct.ID}, nil)
	}
	return acct, err
}

// renderAccount is the account object; it names the orders list, as
// Pebble's does, only when the list is served (Config.OrdersPerPage).
func (s *Server) renderAccount(r *http.Request, a store.Account) accountJSON {
	out := accountJSON{Key: a.JWK, Contact: a.Contact, CreatedAt: a.CreatedAt, Status: a.Status}
	if s.cfg.OrdersPerPage > 0 {
		out.Orders = s.linkerFor(r).orders(a.ID, 1)
	}
	return out
}

// Key-change texts (Boulder wfe2/wfe.go KeyRollover).
const (
	detailKeyChangeInner    = "Unable to validate JWS :: Inner JWS %s"
	detailKeyChangeURL      = "Inner JWS URL doesn't match outer JWS URL"
	detailKeyChangePayload  = "Unable to JSON parse key change request"
	detailKeyChangeAccount  = "Inner key rollover request specified Account %q, but outer JWS has Key ID %q"
	detailKeyChangeOldKey   = "Inner JWS does not contain old key field matching current account key"
	detailKeyChangeSameKey  = "New key specified by rollover request is the same as the old key"
	detailKeyChangeKeyInUse = "Unable to change account key :: New key is already in use for a different account"
)

// keyChange handles POST /acme/key-change (RFC 8555 §7.3.5).
func (s *Server) keyChange(w http.ResponseWriter, r *http.Request) error {
	outer, err := s.verifyPOST(r, byKID)
	if err != nil {
		return err
	}
	inner, newKey, err := verifyInnerJWS(outer)
	if err != nil {
		return err
	}
	if err := s.policy.CheckAccountKey(newKey.Key); err != nil {
		return err
	}
	var body keyChangeRequest
	if err := json.Unmarshal(inner, &body); err != nil {
		return acme.New(acme.Malformed, detailKeyChangePayload)
	}
	acctURL := s.linkerFor(r).account(outer.acct.ID)
	if body.Account != acctURL {
		return acme.New(acme.Malformed, detailKeyChangeAccount, body.Account, acctURL)
	}
	if old, err := parseJWK(body.OldKey); err != nil || !sameKey(old, outer.jwk) {
		return acme.New(acme.Malformed, detailKeyChangeOldKey)
	}
	newID, err := keyID(newKey)
	if err != nil {
		return err
	}
	if newID == outer.acct.KeyID {
		return acme.New(acme.Malformed, detailKeyChangeSameKey)
	}
	raw, err := newKey.MarshalJSON()
	if err != nil {
		return err
	}
	acct, err := s.store.UpdateAccount(r.Context(), outer.acct.ID, func(a *store.Account) error {
		a.JWK, a.KeyID = raw, newID
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		if other, gerr := s.store.GetAccountByKeyID(r.Context(), newID); gerr == nil {
			w.Header().Set("Location", s.linkerFor(r).account(other.ID))
		}
		return acme.New(acme.Conflict, detailKeyChangeKeyInUse)
	}
	if err != nil {
		return err
	}
	s.record(events.Event{Kind: events.KeyChanged, Account: acct.ID, Message: "new key " + newID}, nil)
	writeJSON(w, "application/json", http.StatusOK, s.renderAccount(r, acct))
	return nil
}

// verifyInnerJWS checks the key-change inner JWS: signed by the embedded
// new key, same url as the outer one, no nonce required.
func verifyInnerJWS(outer signedRequest) ([]byte, *jose.JSONWebKey, error) {
	jws, sig, err := parseJWS(outer.payload)
	if err != nil {
		return nil, nil, acme.New(acme.Malformed, detailKeyChangeInner, "could not be parsed")
	}
	hdr := sig.Protected
	if hdr.JSONWebKey == nil || !hdr.JSONWebKey.Valid() || hdr.KeyID != "" {
		return nil, nil, acme.New(acme.Malformed, detailKeyChangeInner, "must embed a JWK and no kid")
	}
	if u, _ := hdr.ExtraHeaders["url"].(string); u != outer.url {
		return nil, nil, acme.New(acme.Malformed, detailKeyChangeURL)
	}
	if err := checkAlgForKey(hdr.Algorithm, hdr.JSONWebKey); err != nil {
		return nil, nil, err
	}
	payload, err := jws.Verify(hdr.JSONWebKey)
	if err != nil {
		return nil, nil, acme.New(acme.Malformed, detailKeyChangeInner, "signature is invalid")
	}
	return payload, hdr.JSONWebKey, nil
}

func sameKey(a, b *jose.JSONWebKey) bool {
	ka, err1 := keyID(a)
	kb, err2 := keyID(b)
	return err1 == nil && err2 == nil && ka == kb
}
