package scenarios

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/client"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

const (
	// defaultAttemptTimeout bounds one issuance attempt on the fake clock.
	defaultAttemptTimeout = 15 * time.Minute
	// maxEvents stops a scenario that would renew for ever.
	maxEvents = 2000
	// msgRetried is cert-manager's Issuing=False reason=Failed message.
	msgRetried = "The certificate request has failed to complete and will be retried: %v"
	// msgWaiting is cert-manager's text for an order that never finishes.
	msgWaiting = "Waiting on certificate issuance from order %s: %q"
	// problemNoAccount is the server's answer to an unknown account.
	problemNoAccount = "urn:ietf:params:acme:error:accountDoesNotExist"
	// msgRegister is cert-manager's Issuer text for a failed registration.
	msgRegister = "Failed to register ACME account: %v"
)

// statusError is a cert-manager status text (capitalised, unlike Go
// errors) with the error behind it.
type statusError struct {
	msg string
	err error
}

func (e *statusError) Error() string { return e.msg }
func (e *statusError) Unwrap() error { return e.err }

// Options configure Run. Start is required: the fake clock starts there,
// and must be close to the real time because the CA's TLS serving
// certificate is dated from it. Logger may be nil.
type Options struct {
	Start  time.Time
	Logger *slog.Logger
}

// Event is one thing that happened during a run.
type Event struct {
	// At is the fake time since the start.
	At          time.Duration `json:"at"`
	Certificate string        `json:"certificate,omitempty"`
	Kind        string        `json:"kind"`
	Message     string        `json:"message"`
}

// CertResult is one certificate's state at the end.
type CertResult struct {
	Name           string        `json:"name"`
	Attempts       int           `json:"attempts"`
	Issuances      int           `json:"issuances"`
	FailedAttempts int           `json:"failedAttempts"`
	Ready          bool          `json:"ready"`
	LastError      string        `json:"lastError,omitempty"`
	Backoff        time.Duration `json:"backoff,omitempty"`
	NotAfter       time.Time     `json:"notAfter,omitzero"`
	Profile        string        `json:"profile,omitempty"`
}

// Result is the outcome of one run.
type Result struct {
	Name         string       `json:"name"`
	File         string       `json:"file"`
	Passed       bool         `json:"passed"`
	Failures     []string     `json:"failures,omitempty"`
	Accounts     int          `json:"accounts"`
	Elapsed      string       `json:"elapsed"` // fake time
	Certificates []CertResult `json:"certificates"`
	Events       []Event      `json:"events"`
}

// managed is one certificate under management.
type managed struct {
	spec      Certificate
	leaf      *x509.Certificate
	der       []byte
	profile   string
	state     client.RenewalState
	attempts  int
	issuances int
	lastErr   string
	// err is the last attempt's error, nil after a success.
	err error
}

// run is one scenario in progress; used by one goroutine.
type run struct {
	s        *Scenario
	log      *slog.Logger
	clk      *jumpClock
	start    time.Time
	inst     *instance.Instance
	httpc    *http.Client
	roots    atomic.Pointer[x509.CertPool]
	cl       *client.Client
	key      crypto.Signer
	acmeAddr string
	accounts int
	orderURL string
	certs    []*managed
	events   []Event
}

// Run plays s on a fresh in-process CA and checks its expectations. The
// error is for a run that could not be carried out (the CA did not
// start); failed expectations are in the Result.
func Run(ctx context.Context, s *Scenario, opts Options) (*Result, error) {
	if opts.Start.IsZero() {
		return nil, errors.New("scenarios: Options.Start is required")
	}
	r, err := newRun(ctx, s, opts)
	if err != nil {
		return nil, err
	}
	defer func() { r.stopCA() }()
	err = r.play(ctx)
	res := r.result()
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
	}
	res.Failures = append(res.Failures, r.check()...)
	res.Passed = len(res.Failures) == 0
	return res, nil
}

// newRun starts a fresh CA for s on a fake clock at opts.Start, with a
// client and every certificate unissued. The caller stops the CA.
func newRun(ctx context.Context, s *Scenario, opts Options) (*run, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &run{s: s, log: log, start: opts.Start, clk: &jumpClock{FakeClock: clocktesting.NewFakeClock(opts.Start)}}
	key, err := client.NewKey(client.KeyECDSAP256)
	if err != nil {
		return nil, err
	}
	r.key = key
	for _, c := range s.Certificates {
		r.certs = append(r.certs, &managed{spec: c})
	}
	if err := r.startCA(ctx, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	return r, nil
}

// play runs the timeline. Steps other than advance happen at the current
// fake time; the manager acts while time advances, and once at the end.
func (r *run) play(ctx context.Context) error {
	for i, st := range r.s.Timeline {
		if st.Kind == StepAdvance {
			target := r.clk.Now().Add(st.Advance)
			if err := r.manageUntil(ctx, target); err != nil {
				return err
			}
			if r.clk.Now().Before(target) {
				r.clk.SetTime(target)
			}
			continue
		}
		if err := r.apply(ctx, st); err != nil {
			return fmt.Errorf("%s:%d: timeline[%d].%s: %w", r.s.File, st.Line, i, st.Kind, err)
		}
	}
	return r.manageUntil(ctx, r.clk.Now())
}

// manageUntil lets every certificate's manager act, jumping from one due
// time to the next, until nothing is due before target.
func (r *run) manageUntil(ctx context.Context, target time.Time) error {
	for {
		if len(r.events) > maxEvents {
			return fmt.Errorf("more than %d events: the scenario never settles", maxEvents)
		}
		next := time.Time{}
		acted := false
		for _, m := range r.certs {
			at, err := r.reconcile(ctx, m)
			if err != nil {
				return err
			}
			if at.IsZero() {
				acted = true
				continue
			}
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		if acted {
			continue
		}
		if next.IsZero() || next.After(target) {
			return nil
		}
		if next.After(r.clk.Now()) {
			r.clk.SetTime(next)
		}
	}
}

// reconcile is one pass of cert-manager's controllers for m: it fetches
// ARI if due, then issues if Decide says so (returning zero), else
// returns when to look again.
func (r *run) reconcile(ctx context.Context, m *managed) (time.Time, error) {
	now := r.clk.Now()
	if m.leaf != nil && m.spec.Policy.UseARI && client.NeedARIFetch(m.state.ARI, m.leaf.NotBefore, now) {
		r.fetchARI(ctx, m, now)
	}
	in := client.Input{Now: now, Policy: policy(m.spec.Policy), State: m.state, ARIRandom: 0.5}
	if m.leaf != nil {
		in.NotBefore, in.NotAfter = m.leaf.NotBefore, m.leaf.NotAfter
	}
	d := client.Decide(in)
	if !d.Renew {
		next := d.NextAttempt
		if a := m.state.ARI; m.spec.Policy.UseARI && a != nil && a.NextCheck.Before(next) {
			next = a.NextCheck
		}
		if !next.After(now) {
			next = now.Add(time.Second)
		}
		return next, nil
	}
	r.attempt(ctx, m, d.Message)
	return time.Time{}, ctx.Err()
}

func policy(f policyFields) client.Policy {
	return client.Policy{RenewBefore: f.RenewBefore, RenewBeforePercentage: f.RenewBeforePercentage,
		UseARI: f.UseARI, MinBackoff: f.MinBackoff, MaxBackoff: f.MaxBackoff}
}

// fetchARI asks for the renewal window; a failure is retried in an hour.
func (r *run) fetchARI(ctx context.Context, m *managed, now time.Time) {
	ri, err := r.cl.RenewalInfo(ctx, m.leaf)
	if err != nil {
		m.state.ARI = &client.ARIState{LastChecked: now, NextCheck: now.Add(time.Hour)}
		r.event(m, "renewal-info", err.Error())
		return
	}
	m.state.ARI = &client.ARIState{Window: ri, LastChecked: now, NextCheck: client.NextARICheck(now, ri.RetryAfter, 0.5)}
	r.event(m, "renewal-info", fmt.Sprintf("suggested window %s – %s", r.rel(ri.Start), r.rel(ri.End)))
}

// attempt runs one issuance for m.
func (r *run) attempt(ctx context.Context, m *managed, why string) {
	m.attempts++
	r.event(m, "attempt", why)
	crt, err := r.issue(ctx, m)
	m.err = err
	if err != nil {
		m.lastErr = fmt.Sprintf(msgRetried, err)
		m.state = m.state.Failed(r.clk.Now(), errors.New(m.lastErr))
		r.event(m, "failed", m.lastErr)
		if p := client.Problem(err); p != nil && p.ProblemType == problemNoAccount {
			// The Issuer controller notices and registers again.
			r.event(nil, "account", "the cached account no longer exists; registering again")
			if err := r.newClient(); err != nil {
				r.event(nil, "account", err.Error())
			}
		}
		return
	}
	m.issuances++
	m.leaf, m.der, m.profile = crt.Leaf, crt.Chain[0], crt.Profile
	m.state = m.state.Succeeded()
	r.event(m, "issued", fmt.Sprintf("serial %x, valid until %s", crt.Leaf.SerialNumber, r.rel(crt.Leaf.NotAfter)))
}

// issue registers the account if needed and orders the certificate,
// within the attempt's timeout on the fake clock.
func (r *run) issue(ctx context.Context, m *managed) (*client.Certificate, error) {
	timeout := m.spec.AttemptTimeout
	if timeout <= 0 {
		timeout = defaultAttemptTimeout
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.clk.arm(r.clk.Now().Add(timeout), cancel)
	defer r.clk.disarm()
	if r.cl.AccountURL() == "" {
		acct, created, err := r.cl.Register(actx)
		if err != nil {
			return nil, &statusError{msg: fmt.Sprintf(msgRegister, err), err: err}
		}
		if created {
			r.accounts++
			r.event(nil, "account", "registered "+acct.URL)
		}
	}
	r.orderURL = ""
	req := client.Request{Names: m.spec.DNSNames, Challenges: []string{m.spec.Challenge}, Profile: m.spec.Profile,
		Solvers: map[string]client.Solver{m.spec.Challenge: noopSolver{}}}
	if m.spec.Duration > 0 {
		req.NotAfter = r.clk.Now().Add(m.spec.Duration)
	}
	crt, err := r.cl.Issue(actx, req)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		status := "pending"
		if r.orderURL != "" {
			if o, oerr := r.cl.Order(ctx, r.orderURL); oerr == nil {
				status = o.Status
			}
		}
		return nil, &statusError{msg: fmt.Sprintf(msgWaiting, r.orderURL, status), err: err}
	}
	return crt, err
}

// noopSolver presents nothing: the CA validates (AlwaysValid), and broken
// responders are fault rules.
type noopSolver struct{}

func (noopSolver) Present(context.Context, client.Challenge) error { return nil }
func (noopSolver) CleanUp(context.Context, client.Challenge) error { return nil }

// event records one event.
func (r *run) event(m *managed, kind, msg string) {
	e := Event{At: r.clk.Now().Sub(r.start), Kind: kind, Message: msg}
	if m != nil {
		e.Certificate = m.spec.Name
	}
	r.events = append(r.events, e)
	r.log.Debug("scenario event", "scenario", r.s.Name, "at", e.At, "certificate", e.Certificate, "kind", kind, "message", msg)
}

// rel formats t as an offset from the start ("+2160h0m0s").
func (r *run) rel(t time.Time) string { return "+" + t.Sub(r.start).String() }

// startCA starts a fresh CA (no persistence) on listen and a client for it.
func (r *run) startCA(ctx context.Context, listen string) error {
	s := r.s.Server
	profiles := ca.DefaultProfiles()
	maps.Copy(profiles, s.Profiles)
	rl := s.RateLimits
	if rl.Preset == "" {
		rl.Preset = ratelimit.PresetProduction
	}
	caCfg := ca.DefaultConfig()
	caCfg.Profiles, caCfg.AllowOrderValidity = profiles, s.AllowNotAfter
	if s.DefaultProfile != "" {
		caCfg.DefaultProfile = s.DefaultProfile
	}
	cfg := instance.Config{Listen: listen, MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", CA: caCfg,
		Validation: challengeval.Config{AlwaysValid: true}, RateLimits: rl,
		Faults: faults.Config{Rules: s.Faults}}
	inst, err := instance.Start(ctx, cfg, instance.Deps{Clock: r.clk.FakeClock, Logger: r.log})
	if err != nil {
		return fmt.Errorf("starting the CA: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(inst.BundlePEM())
	r.roots.Store(roots)
	r.inst, r.acmeAddr = inst, inst.ACMEAddr()
	if r.httpc == nil {
		r.httpc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Verified by verifyServer, against the current CA's roots.
			InsecureSkipVerify: true, //nolint:gosec
			VerifyConnection:   r.verifyServer}}}
	}
	if r.cl == nil {
		return r.newClient()
	}
	return nil
}

// verifyServer checks the CA's serving certificate against the roots of
// the CA running now, at the fake time: after a restart the hierarchy is
// new, and the fake time may be months past the real one.
func (r *run) verifyServer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no server certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: r.roots.Load(), Intermediates: inter,
		CurrentTime: r.clk.Now(), DNSName: "127.0.0.1"})
	return err
}

// newClient replaces the ACME client: a new Issuer account, registered on
// the next attempt.
func (r *run) newClient() error {
	cl, err := client.New(client.Config{DirectoryURL: "https://" + r.acmeAddr + "/directory"}, client.Deps{Clock: r.clk,
		AccountKey: r.key, Logger: r.log, HTTPClient: r.httpc, Progress: func(s client.Step) {
			if s.Name == "order" && s.URL != "" {
				r.orderURL = s.URL
			}
		}})
	if err != nil {
		return err
	}
	r.cl = cl
	return nil
}

// stopCA shuts the CA down.
func (r *run) stopCA() {
	if r.inst == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 10*time.Second)
	defer cancel()
	_ = r.inst.Shutdown(ctx)
	r.httpc.CloseIdleConnections()
	r.inst = nil
}

// mgmt sends one management request.
func (r *run) mgmt(ctx context.Context, method, path, contentType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, "https://"+r.inst.MgmtAddr()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := r.httpc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	out, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(out))
	}
	return nil
}

// addRule installs a fault rule through the management API.
func (r *run) addRule(ctx context.Context, rule faults.Rule) error {
	body, err := yaml.Marshal(rule)
	if err != nil {
		return err
	}
	return r.mgmt(ctx, http.MethodPost, "/faults", "application/yaml", body)
}

// addIncident marks m's certificate as affected by an incident.
func (r *run) addIncident(ctx context.Context, m *managed) error {
	if m.leaf == nil {
		return errors.New("no certificate issued yet")
	}
	body, err := json.Marshal(ca.Incident{Name: "incident-" + m.spec.Name,
		ExplanationURL: "https://community.letsencrypt.org/t/incident", Serials: []string{serialOf(m.leaf)}})
	if err != nil {
		return err
	}
	return r.mgmt(ctx, http.MethodPost, "/incidents", "application/json", body)
}
