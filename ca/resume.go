package ca

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// A finalize answered "processing" and a challenge answered 200 are
// promises: the issuance and the validation they started must finish even
// if the process dies first. Both steps are therefore recorded in the
// store before they are queued (the order's BeganProcessing and CSR, the
// challenge's processing status and account URL), and Run re-queues at
// start whatever the store lists as unfinished.

// claimKind says what a claim is on.
type claimKind uint8

const (
	claimOrder claimKind = iota // an issuance
	claimAuthz                  // a validation
)

// claims are the issuances and validations queued or running in this
// process, so that one resumed at start and one started by a request at
// the same moment run once. The zero value is empty; safe for concurrent
// use, with no lock on the request path beyond sync.Map's.
type claims struct{ m sync.Map } // claimKey → struct{}

type claimKey struct {
	kind claimKind
	id   int64
}

// claim reports whether the caller now owns the work, false if someone
// else does; the owner calls release when the job is done.
func (c *claims) claim(kind claimKind, id int64) bool {
	_, taken := c.m.LoadOrStore(claimKey{kind, id}, struct{}{})
	return !taken
}

func (c *claims) release(kind claimKind, id int64) { c.m.Delete(claimKey{kind, id}) }

// resume re-queues the unfinished work of store.Store.Unfinished, logging
// one line per item. It returns early when ctx ends. Jobs that a request
// queued meanwhile are not queued twice (claims), and a job that finds its
// work done already does nothing.
func (s *Server) resume(ctx context.Context) {
	orders, authzs, err := s.store.Unfinished(ctx)
	if err != nil {
		s.log.Error("listing unfinished work to resume", "err", err)
		return
	}
	for _, o := range orders {
		if err := s.resumeIssuance(ctx, o); err != nil {
			s.log.Error("resuming issuance", "order", o.ID, "err", err)
		}
	}
	for _, a := range authzs {
		if err := s.resumeValidation(ctx, a); err != nil {
			s.log.Error("resuming validation", "authz", a.ID, "err", err)
		}
	}
}

// resumeIssuance queues the issuance of o with its stored CSR. A CSR that
// does not parse (or an order from before CSRs were stored) fails the
// order with serverInternal.
func (s *Server) resumeIssuance(ctx context.Context, o store.Order) error {
	csr, err := x509.ParseCertificateRequest(o.CSR)
	if err != nil {
		s.failIssuance(ctx, o.ID, fmt.Errorf("resuming issuance: stored CSR: %w", err))
		return nil
	}
	s.log.Info("resuming issuance", "order", o.ID, "account", o.AccountID, "identifier", identValues(o.Identifiers))
	return s.enqueueIssuance(ctx, o.ID, csr)
}

// resumeValidation queues the validation of a's processing challenge.
func (s *Server) resumeValidation(ctx context.Context, a store.Authorization) error {
	idx := -1
	for i, c := range a.Challenges {
		if c.Status == acme.StatusProcessing {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil // finished since Unfinished read it
	}
	acct, err := s.store.GetAccount(ctx, a.AccountID)
	if err != nil {
		return err
	}
	vr, err := s.validationRequest(acct, a, idx)
	if err != nil {
		return err
	}
	s.log.Info("resuming validation", "authz", a.ID, "account", a.AccountID,
		"identifier", displayIdent(a).Value, "challenge", vr.Type)
	return s.enqueueValidation(ctx, a, idx, vr)
}
