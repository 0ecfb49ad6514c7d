package scenarios

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/client"
	"github.com/fakeca/fakeca/faults"
)

// apply carries out one timeline step (advance has already happened).
func (r *run) apply(ctx context.Context, st Step) error {
	m := r.managed(st.Target)
	switch st.Kind {
	case StepAdvance:
		return nil
	case StepInject:
		r.event(nil, "inject", "fault "+st.Rule.Name)
		return r.addRule(ctx, st.Rule)
	case StepClear:
		r.event(nil, "clear", "fault "+st.Target)
		return r.mgmt(ctx, http.MethodDelete, "/faults/"+st.Target, "", nil)
	case StepBreak:
		r.event(m, "break", st.Failure)
		for i, name := range m.spec.DNSNames {
			typ, detail, _ := failure(st.Failure, name)
			rule := faults.Rule{Name: breakRule(m, i), Match: faults.Match{Operation: faults.OpValidation, Identifier: name},
				Action: faults.Action{Validation: acme.StatusInvalid,
					Problem: &faults.Problem{Type: acme.ErrorType(typ), Detail: detail}}}
			if err := r.addRule(ctx, rule); err != nil {
				return err
			}
		}
		return nil
	case StepFix:
		r.event(m, "fix", "challenge responder fixed")
		for i := range m.spec.DNSNames {
			_ = r.mgmt(ctx, http.MethodDelete, "/faults/"+breakRule(m, i), "", nil)
		}
		return nil
	case StepRestart:
		return r.restart(ctx)
	case StepRevoke:
		if m.leaf == nil {
			return fmt.Errorf("certificate %q has not been issued", m.spec.Name)
		}
		r.event(m, "revoke", fmt.Sprintf("serial %s revoked (keyCompromise)", serialOf(m.leaf)))
		return r.cl.Revoke(ctx, m.der, nil, 1)
	case StepIncident:
		r.event(m, "incident", "the CA asks for early renewal through ARI")
		return r.addIncident(ctx, m)
	case StepDelete:
		r.event(m, "deleteSecret", "the Secret was deleted")
		m.leaf, m.der, m.profile = nil, nil, ""
		return nil
	}
	return fmt.Errorf("unknown step %q", st.Kind)
}

// managed returns the certificate named name, or nil.
func (r *run) managed(name string) *managed {
	for _, m := range r.certs {
		if m.spec.Name == name {
			return m
		}
	}
	return nil
}

// restart replaces the CA by a fresh one on the same ACME address: its
// accounts, orders, certificates, rate-limit state, faults added at run
// time and hierarchy are gone.
func (r *run) restart(ctx context.Context) error {
	addr := r.acmeAddr
	r.stopCA()
	if err := r.startCA(ctx, addr); err != nil {
		return err
	}
	r.event(nil, "restart", "the CA restarted without persistence: accounts, orders and certificates are gone")
	return nil
}

// breakRule names the fault rule that breaks m's i-th name.
func breakRule(m *managed, i int) string {
	return fmt.Sprintf("break-%s-%d", m.spec.Name, i)
}

// serialOf is the CA's form of c's serial.
func serialOf(c *x509.Certificate) string { return pki.SerialString(c.SerialNumber) }

// result summarises the run.
func (r *run) result() *Result {
	now := r.clk.Now()
	res := &Result{Name: r.s.Name, File: r.s.File, Accounts: r.accounts, Elapsed: now.Sub(r.start).String(), Events: r.events}
	for _, m := range r.certs {
		cr := CertResult{Name: m.spec.Name, Attempts: m.attempts, Issuances: m.issuances,
			FailedAttempts: m.state.FailedIssuanceAttempts, LastError: m.lastErr, Profile: m.profile}
		if m.leaf != nil {
			cr.NotAfter = m.leaf.NotAfter
			cr.Ready = now.Before(m.leaf.NotAfter)
		}
		if m.state.FailedIssuanceAttempts > 0 {
			cr.Backoff = backoff(m)
		}
		res.Certificates = append(res.Certificates, cr)
	}
	return res
}

// check compares the result with the expectations; each failure names
// the expectation's line.
func (r *run) check() []string {
	res := r.result()
	var out []string
	bad := func(line int, field, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s:%d: expect.%s: %s", r.s.File, line, field, fmt.Sprintf(format, args...)))
	}
	if e := r.s.Expect.Accounts; e != nil && *e != res.Accounts {
		bad(r.s.Expect.AccountsLine, "accounts", "got %d, want %d", res.Accounts, *e)
	}
	for _, ce := range r.s.Expect.Certificates {
		var got CertResult
		for _, c := range res.Certificates {
			if c.Name == ce.Name {
				got = c
			}
		}
		f := "certificates." + ce.Name + "."
		ints := []struct {
			name    string
			want    *int
			got     int
			atLeast bool
		}{{"issuances", ce.Issuances, got.Issuances, false}, {"attempts", ce.Attempts, got.Attempts, false},
			{"minAttempts", ce.MinAttempts, got.Attempts, true}, {"failedAttempts", ce.FailedAttempts, got.FailedAttempts, false}}
		for _, c := range ints {
			if c.want != nil && (c.atLeast && c.got < *c.want || !c.atLeast && c.got != *c.want) {
				bad(ce.Line, f+c.name, "got %d, want %d", c.got, *c.want)
			}
		}
		if ce.Ready != nil && *ce.Ready != got.Ready {
			bad(ce.Line, f+"ready", "got %t, want %t", got.Ready, *ce.Ready)
		}
		if ce.LastError != nil && !strings.Contains(got.LastError, *ce.LastError) {
			bad(ce.Line, f+"lastError", "%q does not contain %q", got.LastError, *ce.LastError)
		}
		if ce.Profile != nil && *ce.Profile != got.Profile {
			bad(ce.Line, f+"profile", "got %q, want %q", got.Profile, *ce.Profile)
		}
		if ce.Backoff != nil && *ce.Backoff != got.Backoff {
			bad(ce.Line, f+"backoff", "got %s, want %s", got.Backoff, *ce.Backoff)
		}
		if ce.Expiry != nil {
			var exp time.Duration
			if !got.NotAfter.IsZero() {
				exp = got.NotAfter.Sub(r.start).Round(time.Minute)
			}
			if exp != *ce.Expiry {
				bad(ce.Line, f+"expiry", "certificate expires at start+%s, want start+%s", exp, *ce.Expiry)
			}
		}
	}
	return out
}

// backoff is m's current issuance backoff.
func backoff(m *managed) time.Duration {
	p := policy(m.spec.Policy)
	return client.IssuanceBackoff(m.state.FailedIssuanceAttempts, p.MinBackoff, p.MaxBackoff)
}
