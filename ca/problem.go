package ca

import (
	"bytes"
	"encoding/json"
	jose "github.com/go-jose/go-jose/v4"
	"net/http"
	"strconv"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// problemJSON is an RFC 7807 problem document with Boulder's key order.
type problemJSON struct {
	Type        string           `json:"type"`
	Detail      string           `json:"detail,omitempty"`
	Status      int              `json:"status,omitempty"`
	Identifier  *acme.Identifier `json:"identifier,omitempty"`
	Subproblems []problemJSON    `json:"subproblems,omitempty"`
	// Algorithms lists the accepted JWS algorithms on badSignatureAlgorithm
	// (RFC 8555 §6.2).
	Algorithms []jose.SignatureAlgorithm `json:"algorithms,omitempty"`
}

// detailInternal is what a client sees for an error of unknown type: its
// text may be sensitive, so it only goes to the log (Boulder does the same).
const detailInternal = "Problem processing request"

// rateLimitHelpURL is the Link rel="help" Boulder adds to rate-limit errors.
const rateLimitHelpURL = "https://letsencrypt.org/docs/rate-limits"

// toProblem is the one translator from internal errors to wire problems.
// Anything that is not an *acme.Error becomes serverInternal.
func toProblem(err error) (*acme.Error, bool) {
	if e, ok := acme.As(err); ok {
		return e, true
	}
	return &acme.Error{Type: acme.ServerInternal, Detail: detailInternal}, false
}

func renderProblem(e *acme.Error) problemJSON {
	p := problemJSON{Type: e.Type.URN(), Detail: e.Detail, Status: e.HTTPStatus()}
	if e.Type == acme.BadSignatureAlgorithm {
		p.Algorithms = allowedAlgs
	}
	for _, s := range e.Sub {
		id := s.Identifier
		sp := renderProblem(s.Err)
		sp.Identifier = &id
		p.Subproblems = append(p.Subproblems, sp)
	}
	return p
}

// storedProblem converts an error to the plain form kept with a challenge
// or an order.
func storedProblem(err error) *store.Problem {
	e, _ := toProblem(err)
	return storedFromError(e)
}

func storedFromError(e *acme.Error) *store.Problem {
	p := &store.Problem{Type: e.Type, Detail: e.Detail, Status: e.HTTPStatus()}
	for _, s := range e.Sub {
		sp := storedFromError(s.Err)
		id := s.Identifier
		sp.Identifier = &id
		p.Subproblems = append(p.Subproblems, *sp)
	}
	return p
}

func renderStored(p *store.Problem) *problemJSON {
	if p == nil {
		return nil
	}
	out := &problemJSON{Type: p.Type.URN(), Detail: p.Detail, Status: p.Status, Identifier: p.Identifier}
	for i := range p.Subproblems {
		out.Subproblems = append(out.Subproblems, *renderStored(&p.Subproblems[i]))
	}
	return out
}

// writeError sends err as application/problem+json with Boulder's headers.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, known := toProblem(err)
	ev := eventFrom(r)
	if ev != nil {
		ev.problem = e.Type.URN() + ": " + e.Detail
		if !known {
			ev.internal = err
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second/2)/time.Second)))
		if e.Type == acme.RateLimited {
			w.Header().Add("Link", "<"+rateLimitHelpURL+">;rel=\"help\"")
		}
	} else if e.Type == acme.ServerInternal {
		w.Header().Set("Retry-After", "60")
	}
	if e.Type == acme.MethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "POST")
	}
	writeJSON(w, "application/problem+json", e.HTTPStatus(), renderProblem(e))
}

// writeJSON encodes v as Boulder does: two-space indent, no HTML escaping.
func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"type":"urn:ietf:params:acme:error:serverInternal","detail":"` + detailInternal + `","status":500}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
