package ca

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/faults"
)

// Faults injects configured failures; *faults.Engine is the real one.
// Middleware applies request-level actions before a handler runs; Check
// applies the rules that need the account, identifiers or profile, once the
// handler knows them; Match and Wait serve the asynchronous validation and
// issuance steps.
type Faults interface {
	Middleware(opOf func(*http.Request) faults.Operation, writeError faults.ErrorWriter) func(http.Handler) http.Handler
	Check(w http.ResponseWriter, r *http.Request, req faults.Request) (faults.Action, error)
	Match(req faults.Request) (faults.Action, bool)
	Wait(ctx context.Context, d time.Duration) error
}

var _ Faults = (*faults.Engine)(nil)

// checkFaults runs the late fault rules for a request; a nil engine
// injects nothing. An error stops the handler: faults.ErrHandled means
// the response is already written (the route wrapper then writes nothing).
func (s *Server) checkFaults(w http.ResponseWriter, r *http.Request, req faults.Request) (faults.Action, error) {
	if s.faults == nil {
		return faults.Action{}, nil
	}
	return s.faults.Check(w, r, req)
}

// matchFaults consults the rules for an asynchronous step.
func (s *Server) matchFaults(req faults.Request) (faults.Action, bool) {
	if s.faults == nil {
		return faults.Action{}, false
	}
	return s.faults.Match(req)
}

// waitFault waits out a fault's delay on the injected clock.
func (s *Server) waitFault(ctx context.Context, d time.Duration) error {
	if s.faults == nil || d <= 0 {
		return nil
	}
	return s.faults.Wait(ctx, d)
}

// faultedValidation applies validation faults: a delay, then a forced
// outcome, else the real validator.
func (s *Server) faultedValidation(ctx context.Context, req faults.Request, validate func() error) error {
	a, fired := s.matchFaults(req)
	if !fired {
		return validate()
	}
	if err := s.waitFault(ctx, a.ValidationDelay); err != nil {
		return acme.New(acme.Connection, "Error getting validation data")
	}
	if forced, err := a.ValidationResult(); forced {
		return err
	}
	return validate()
}

// handled reports whether err means a fault already answered the request.
func handled(err error) bool { return errors.Is(err, faults.ErrHandled) }
