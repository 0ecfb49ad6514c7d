package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/store"
)

// Finalize texts (reference §8 "Finalize").
const (
	prefixFinalize        = "Error finalizing order"
	detailFinalizePayload = "Unable to unmarshal finalize request body"
	detailBadCSREncoding  = "Error parsing certificate request: %s"
	detailOrderNotReady   = "Order's status (%q) is not acceptable for finalization"
	detailOrderExpired    = "Order %d is expired"
	detailIssuanceFailed  = "Error finalizing order :: failed to issue certificate"
	issuanceTimeout       = 30 * time.Second
)

// finalize handles POST /acme/finalize/<acct>/<id> (RFC 8555 §7.4). CSR
// problems are answered at once and leave the order ready; issuance runs
// asynchronously, as at Let's Encrypt since 2023, and the order is
// answered as processing with Retry-After: cfg.RetryAfterOrder.
func (s *Server) finalize(w http.ResponseWriter, r *http.Request) error {
	o, req, err := s.finalizeTarget(r)
	if err != nil {
		return err
	}
	err = s.startFinalize(w, r, o, req)
	if err != nil {
		kind := events.FinalizeRejected
		if errors.Is(err, acme.CAA) {
			kind = events.CAARecheckFailed
		}
		s.recordRejection(kind, events.Event{Account: o.AccountID, Order: o.ID, Identifiers: o.Identifiers}, err)
	}
	return err
}

// startFinalize checks the order and CSR and queues issuance.
func (s *Server) startFinalize(w http.ResponseWriter, r *http.Request, o store.Order, req signedRequest) error {
	authzs, err := s.store.GetAuthzs(r.Context(), o.AuthzIDs)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	if !now.Before(o.Expires) {
		return acme.New(acme.NotFound, detailOrderExpired, o.ID)
	}
	fault, err := s.checkFaults(w, r, faults.Request{Operation: faults.OpFinalize, Identifiers: o.Identifiers,
		AccountID: o.AccountID, Profile: s.profileName(o.Profile)})
	if err != nil {
		return err
	}
	if st := orderStatus(o, authzs, now); st != acme.StatusReady {
		return acme.New(acme.OrderNotReady, detailOrderNotReady, st)
	}
	csr, err := s.parseFinalizeCSR(r, req, o)
	if err != nil {
		return err
	}
	if err := s.recheckCAA(r.Context(), s.linkerFor(r).account(req.acct.ID), authzs, now); err != nil {
		return withPrefix(err, prefixFinalize)
	}
	if fault.Stuck == acme.StatusReady || fault.Stuck == acme.StatusPending { // a fault holds the order back
		s.writeOrderAs(w, s.linkerFor(r), o, authzs, fault.Stuck)
		return nil
	}
	o, err = s.store.UpdateOrder(r.Context(), o.ID, func(cur *store.Order) error {
		if cur.BeganProcessing {
			return acme.New(acme.OrderNotReady, detailOrderNotReady, acme.StatusProcessing)
		}
		cur.BeganProcessing, cur.CSR = true, csr.Raw
		return nil
	})
	if err != nil {
		return err
	}
	if fault.Stuck != acme.StatusProcessing { // that fault leaves it processing (until a restart resumes it)
		if err := s.enqueueIssuance(r.Context(), o.ID, csr); err != nil {
			return err
		}
	}
	s.writeOrder(w, s.linkerFor(r), o, authzs)
	return nil
}

func (s *Server) finalizeTarget(r *http.Request) (store.Order, signedRequest, error) {
	req, err := s.verifyPOST(r, byKID)
	if err != nil {
		return store.Order{}, req, err
	}
	// Reuse the order look-up of GET: ownership and 404s are the same.
	o, err := s.orderByVars(r, req.acct.ID)
	return o, req, err
}

func (s *Server) parseFinalizeCSR(r *http.Request, req signedRequest, o store.Order) (*x509.CertificateRequest, error) {
	var body finalizeRequest
	if err := json.Unmarshal(req.payload, &body); err != nil {
		return nil, acme.New(acme.Malformed, detailFinalizePayload)
	}
	der, err := b64Decode(body.CSR)
	if err != nil {
		return nil, acme.New(acme.Malformed, detailBadCSREncoding, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, acme.New(acme.Malformed, detailBadCSREncoding, err)
	}
	p := s.cfg.Profiles[s.profileName(o.Profile)]
	err = s.policy.CheckCSR(policy.CSRRequest{CSR: csr, OrderIdentifiers: o.Identifiers,
		AccountKey: req.jwk.Key, MaxNames: p.MaxNames,
		KeyBlocked: func(h string) (bool, error) { return s.store.KeyBlocked(r.Context(), h) }})
	if err != nil {
		return nil, withPrefix(err, prefixFinalize)
	}
	return csr, nil
}

// Outcomes of an issuance that faults decided.
var (
	errStuck       = errors.New("issuance held by a fault")
	errOrderFailed = errors.New("order failed")
)

// failOrder makes a processing order invalid with Boulder's finalize
// prefix on the problem, and returns the problem.
func (s *Server) failOrder(ctx context.Context, orderID int64, problem *acme.Error) error {
	e := problem.WithPrefix(prefixFinalize)
	_, err := s.store.UpdateOrder(ctx, orderID, func(o *store.Order) error {
		o.Error = storedFromError(e)
		return nil
	})
	s.metrics.order(orderInvalid)
	s.record(events.Event{Kind: events.IssuanceFailed, Order: orderID}, e)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", errOrderFailed, e)
}

// recheckCAA checks CAA again for DNS authorizations validated longer than
// challengeval.CAARecheckAge ago, as Boulder's RA does at finalization.
func (s *Server) recheckCAA(ctx context.Context, acctURI string, authzs []store.Authorization, now time.Time) error {
	var failures []acme.SubError
	for _, a := range authzs {
		if a.Identifier.Type != acme.TypeDNS {
			continue
		}
		for _, c := range a.Challenges {
			if c.Status != acme.StatusValid || now.Sub(c.Validated) <= challengeval.CAARecheckAge {
				continue
			}
			err := s.validator.CheckCAA(ctx, a.Identifier, a.Wildcard, acctURI, c.Type)
			if err == nil {
				continue
			}
			e, ok := acme.As(err)
			if !ok {
				return err
			}
			failures = append(failures, acme.SubError{Identifier: displayIdent(a), Err: e})
		}
	}
	return challengeval.RecheckError(failures)
}

// enqueueIssuance queues the issuance of a processing order, unless it is
// already queued or running in this process (see claims).
func (s *Server) enqueueIssuance(ctx context.Context, orderID int64, csr *x509.CertificateRequest) error {
	if !s.claims.claim(claimOrder, orderID) {
		return nil
	}
	err := s.enqueue(ctx, func(ctx context.Context) {
		defer s.claims.release(claimOrder, orderID)
		s.issue(ctx, orderID, csr)
	})
	if err != nil {
		s.claims.release(claimOrder, orderID)
	}
	return err
}

// issue signs the certificate for a processing order and records it; on
// failure the order becomes invalid with Boulder's finalize error.
func (s *Server) issue(ctx context.Context, orderID int64, csr *x509.CertificateRequest) {
	ctx, cancel := context.WithTimeout(ctx, issuanceTimeout)
	defer cancel()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return s.issueOrder(ctx, orderID, csr)
	}()
	switch {
	case err == nil, errors.Is(err, errStuck):
		return
	case errors.Is(err, errOrderFailed): // failOrder recorded the problem
		s.log.Info("issuance failed by a fault", "order", orderID, "problem", err.Error())
		return
	}
	s.failIssuance(ctx, orderID, err)
}

// failIssuance makes a processing order invalid with serverInternal after
// an unexpected error, which is logged but not shown to the client.
func (s *Server) failIssuance(ctx context.Context, orderID int64, err error) {
	s.log.Error("issuance failed", "order", orderID, "err", err)
	s.metrics.order(orderInvalid)
	s.record(events.Event{Kind: events.IssuanceFailed, Order: orderID, Message: err.Error()}, nil)
	_, uerr := s.store.UpdateOrder(ctx, orderID, func(o *store.Order) error {
		o.Error = storedFromError(acme.New(acme.ServerInternal, detailIssuanceFailed))
		return nil
	})
	if uerr != nil {
		s.log.Error("recording failed issuance", "order", orderID, "err", uerr)
	}
}

func (s *Server) issueOrder(ctx context.Context, orderID int64, csr *x509.CertificateRequest) error {
	o, err := s.store.GetOrder(ctx, orderID)
	if err != nil {
		return err
	}
	if !o.Unfinished() { // already issued or failed (a resumed job that came late)
		return nil
	}
	if fault, ok := s.matchFaults(faults.Request{Operation: faults.OpIssuance, Identifiers: o.Identifiers,
		AccountID: o.AccountID, Profile: s.profileName(o.Profile)}); ok {
		if err := s.waitFault(ctx, fault.Delay); err != nil {
			return err
		}
		if fault.Stuck == acme.StatusProcessing {
			return errStuck
		}
		if ferr := fault.Error(); ferr != nil {
			return s.failOrder(ctx, orderID, ferr)
		}
	}
	p := s.cfg.Profiles[s.profileName(o.Profile)]
	leafReq := pki.LeafRequest{PublicKey: csr.PublicKey, CommonName: csr.Subject.CommonName,
		Profile: p.certProfile(s.profileName(o.Profile)), NotBefore: o.NotBefore, NotAfter: o.NotAfter}
	for _, id := range o.Identifiers {
		if id.Type == acme.TypeIP {
			leafReq.IPs = append(leafReq.IPs, net.ParseIP(id.Value))
		} else {
			leafReq.DNSNames = append(leafReq.DNSNames, id.Value)
		}
	}
	leaf, err := s.pki.Issue(leafReq)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	keyHash, err := policy.KeyHash(csr.PublicKey)
	if err != nil {
		return err
	}
	cert := store.Certificate{Serial: leaf.Serial, AccountID: o.AccountID, OrderID: o.ID, DER: leaf.DER,
		IssuerID: leaf.Issuer.ID, CRLShard: s.pki.CRLShard(leaf.Cert.SerialNumber), Identifiers: o.Identifiers, Issued: s.clock.Now().UTC(),
		Expires: leaf.Cert.NotAfter, KeyHash: keyHash}
	if err := s.store.AddCertificate(ctx, cert); err != nil {
		return err
	}
	_, err = s.store.UpdateOrder(ctx, orderID, func(o *store.Order) error {
		o.CertSerial = leaf.Serial
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("certificate issued", "order", orderID, "serial", leaf.Serial, "identifier", identValues(o.Identifiers))
	s.metrics.issuedCert(s.profileName(o.Profile), leaf.Issuer.ID)
	s.record(events.Event{Kind: events.CertificateIssued, Account: o.AccountID, Order: o.ID, Serial: leaf.Serial,
		Identifiers: o.Identifiers, Message: "issuer " + leaf.Issuer.ID + ", profile " + s.profileName(o.Profile)}, nil)
	if lerr := s.limiter.Issued(ctx, o.AccountID, o.Identifiers); lerr != nil {
		s.log.Warn("rate limiter", "order", orderID, "err", lerr)
	}
	return nil
}
