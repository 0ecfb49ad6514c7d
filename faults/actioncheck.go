package faults

import (
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/fakeca/fakeca/acme"
)

// part is one effect of an Action, for checking which combine and where
// they apply.
type part uint16

// The parts of an Action, in field order. When a field is added to Action,
// add its part here, in partName, in Action.parts and in allowedParts.
const (
	partProblem part = 1 << iota
	partRetryAfter
	partHTTP
	partDelay
	partJitter
	partDrop
	partReset
	partBadNonce
	partMalformedJSON
	partContentType
	partStuck
	partValidation
	partValidationDelay
	numParts = iota
)

// Classes of parts.
const (
	partsResponse = partProblem | partHTTP | partDrop | partReset | partBadNonce
	partsRequest  = partsResponse | partRetryAfter | partDelay | partJitter | partMalformedJSON | partContentType | partStuck
	partsValidate = partProblem | partJitter | partValidation | partValidationDelay
	partsIssue    = partProblem | partDelay | partJitter | partStuck
)

// partName returns the YAML key of p.
func partName(p part) string {
	switch p {
	case partProblem:
		return "problem"
	case partRetryAfter:
		return "retryAfter"
	case partHTTP:
		return "http"
	case partDelay:
		return "delay"
	case partJitter:
		return "jitter"
	case partDrop:
		return "drop"
	case partReset:
		return "reset"
	case partBadNonce:
		return "badNonce"
	case partMalformedJSON:
		return "malformedJSON"
	case partContentType:
		return "contentType"
	case partStuck:
		return "stuck"
	case partValidation:
		return "validation"
	}
	return "validationDelay"
}

// parts returns the effects a sets.
func (a Action) parts() part {
	var p part
	set := func(b bool, q part) {
		if b {
			p |= q
		}
	}
	set(a.Problem != nil, partProblem)
	set(a.RetryAfter != 0, partRetryAfter)
	set(a.HTTP != nil, partHTTP)
	set(a.Delay != 0, partDelay)
	set(a.Jitter != 0, partJitter)
	set(a.Drop, partDrop)
	set(a.Reset, partReset)
	set(a.BadNonce, partBadNonce)
	set(a.MalformedJSON, partMalformedJSON)
	set(a.ContentType != "", partContentType)
	set(a.Stuck != "", partStuck)
	set(a.Validation != "", partValidation)
	set(a.ValidationDelay != 0, partValidationDelay)
	return p
}

// allowedParts returns the parts that mean something at o.
func allowedParts(o Operation) part {
	switch o {
	case OpValidation:
		return partsValidate
	case OpIssuance:
		return partsIssue
	}
	return partsRequest
}

// stuckOps returns where an order can be kept in status s.
func stuckOps(s acme.Status) opMask {
	switch s {
	case acme.StatusPending:
		return OpOrder.bit() | OpFinalize.bit()
	case acme.StatusReady:
		return OpFinalize.bit()
	case acme.StatusProcessing:
		return OpFinalize.bit() | OpIssuance.bit()
	}
	return 0
}

// compileAction checks r.Action against itself and r's operations, and
// stores its normalized form in cr.
func compileAction(c *checker, r Rule, cr *rule) {
	a := r.Action
	ps := a.parts()
	if ps == 0 {
		c.bad("action", "must do something (problem, http, delay, drop, reset, badNonce, malformedJSON, "+
			"contentType, stuck, validation or validationDelay)")
		return
	}
	checkCombination(c, a, ps)
	checkValues(c, a)
	if a.BadNonce && (cr.method == "GET" || cr.method == "HEAD") {
		c.bad("action.badNonce", "only POST requests carry a nonce, but match.method is %s", cr.method)
	}
	checkPlaces(c, a, ps, cr)
	if a.BadNonce && cr.method == "" {
		cr.method = "POST"
	}
	cr.action = normalize(a, r.Name)
}

// checkCombination rejects effects that exclude each other.
func checkCombination(c *checker, a Action, ps part) {
	var resp []string
	for p := part(1); p < 1<<numParts; p <<= 1 {
		if ps&p != 0 && partsResponse&p != 0 {
			resp = append(resp, partName(p))
		}
	}
	if len(resp) > 1 {
		c.bad("action", "%s each answer the request; choose one", strings.Join(resp, ", "))
	}
	if ps&partRetryAfter != 0 && ps&(partProblem|partHTTP) == 0 {
		c.bad("action.retryAfter", "needs problem or http")
	}
	if ps&partStuck != 0 && ps&partsResponse != 0 {
		c.bad("action.stuck", "cannot be combined with %s: the order is never looked at", strings.Join(resp, ", "))
	}
	if a.Validation == acme.StatusValid && a.Problem != nil {
		c.bad("action.validation", "valid cannot be combined with problem")
	}
}

// checkValues checks each effect on its own.
func checkValues(c *checker, a Action) {
	for _, d := range []struct {
		name string
		v    interface{ String() string }
		neg  bool
	}{{"retryAfter", a.RetryAfter, a.RetryAfter < 0}, {"delay", a.Delay, a.Delay < 0},
		{"jitter", a.Jitter, a.Jitter < 0}, {"validationDelay", a.ValidationDelay, a.ValidationDelay < 0}} {
		if d.neg {
			c.bad("action."+d.name, "must not be negative, got %s", d.v)
		}
	}
	if p := a.Problem; p != nil {
		t := acme.ErrorType(strings.TrimPrefix(string(p.Type), urnPrefix))
		if !knownType(t) {
			c.bad("action.problem.type", "unknown ACME problem type %q (e.g. serverInternal, rateLimited, badNonce)", p.Type)
		}
		if p.Status != 0 && (p.Status < 400 || p.Status > 599) {
			c.bad("action.problem.status", "must be 400–599, got %d", p.Status)
		}
	}
	if h := a.HTTP; h != nil {
		if h.Status < 100 || h.Status > 599 {
			c.bad("action.http.status", "must be 100–599, got %d", h.Status)
		}
		if err := checkMediaType(h.ContentType); err != nil {
			c.bad("action.http.contentType", "%v", err)
		}
	}
	if err := checkMediaType(a.ContentType); err != nil {
		c.bad("action.contentType", "%v", err)
	}
	if a.Stuck != "" && stuckOps(a.Stuck) == 0 {
		c.bad("action.stuck", "%q is not pending, ready or processing", a.Stuck)
	}
	if a.Validation != "" && a.Validation != acme.StatusValid && a.Validation != acme.StatusInvalid {
		c.bad("action.validation", "%q is not valid or invalid", a.Validation)
	}
}

// checkPlaces checks that each effect means something at every operation
// the rule names, and sets cr.ops to the operations it applies to.
func checkPlaces(c *checker, a Action, ps part, cr *rule) {
	if !cr.listed {
		cr.ops = maskRequests
		for p := part(1); p < 1<<numParts; p <<= 1 {
			if ps&p != 0 && partsRequest&p == 0 {
				c.bad("action."+partName(p), "needs match.operation: validation")
			}
		}
		if stuckOps(a.Stuck) != 0 {
			c.bad("action.stuck", "needs match.operation (%s)", joinOps(opsOf(stuckOps(a.Stuck))))
		}
		return
	}
	for _, o := range operationNames() {
		if cr.ops&o.bit() == 0 {
			continue
		}
		for p := part(1); p < 1<<numParts; p <<= 1 {
			if ps&p != 0 && allowedParts(o)&p == 0 {
				c.bad("action."+partName(p), "means nothing at operation %s", o)
			}
		}
		if m := stuckOps(a.Stuck); m != 0 && m&o.bit() == 0 && allowedParts(o)&partStuck != 0 {
			c.bad("action.stuck", "an order cannot be kept %s at operation %s (only at %s)", a.Stuck, o,
				joinOps(opsOf(stuckOps(a.Stuck))))
		}
	}
}

// checkMediaType accepts "" or a type/subtype with optional parameters.
func checkMediaType(s string) error {
	if s == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(s)
	if err == nil && !strings.Contains(mt, "/") {
		err = errors.New("want type/subtype")
	}
	if err != nil {
		return fmt.Errorf("%q is not a media type: %w", s, err)
	}
	return nil
}

// opsOf lists the operations in m.
func opsOf(m opMask) []Operation {
	var out []Operation
	for _, o := range operationNames() {
		if m&o.bit() != 0 {
			out = append(out, o)
		}
	}
	return out
}

// normalize fills the defaults of a for rule name.
func normalize(a Action, name string) Action {
	if a.Problem != nil {
		p := *a.Problem
		p.Type = acme.ErrorType(strings.TrimPrefix(string(p.Type), urnPrefix))
		if p.Detail == "" {
			p.Detail = fmt.Sprintf(detailInjected, name)
		}
		a.Problem = &p
	}
	if a.HTTP != nil {
		h := *a.HTTP
		if h.ContentType == "" {
			h.ContentType = defaultHTTPContentType
		}
		a.HTTP = &h
	}
	return a
}

// knownType reports whether t is a problem type fakeca can render.
func knownType(t acme.ErrorType) bool {
	switch t {
	case acme.AccountDoesNotExist, acme.AlreadyReplaced, acme.AlreadyRevoked, acme.BadCSR, acme.BadNonce,
		acme.BadPublicKey, acme.BadRevocationReason, acme.BadSignatureAlgorithm, acme.CAA, acme.Conflict,
		acme.Connection, acme.DNS, acme.ExternalAccountRequired, acme.InvalidContact, acme.InvalidProfile,
		acme.Malformed, acme.NotFound, acme.OrderNotReady, acme.RateLimited, acme.RejectedIdentifier,
		acme.ServerInternal, acme.TLS, acme.Unauthorized, acme.UnsupportedContact, acme.UnsupportedIdentifier,
		acme.UserActionRequired, acme.MethodNotAllowed:
		return true
	}
	return false
}
