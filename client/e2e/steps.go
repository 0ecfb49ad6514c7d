package e2e

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/client"
)

// runner holds one run's state; steps fill it in order.
type runner struct {
	cfg    Config
	clock  clock.Clock
	log    *slog.Logger
	onStep func(Result)
	web    *client.HTTP01
	dns    *client.RFC2136
	http   *http.Client
	names  []string

	cl            *client.Client
	recording     bool // client steps become rows (during "issue")
	recordedFail  bool
	first, second *client.Certificate
	report        Report
}

func newRunner(cfg Config, deps Deps) (*runner, error) {
	if cfg.DirectoryURL == "" || deps.Clock == nil {
		return nil, errors.New("e2e: Config.DirectoryURL and Deps.Clock are required")
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.HTTP01Listen == "" {
		cfg.HTTP01Listen = "127.0.0.1:5002"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = client.DefaultPollInterval
	}
	if cfg.ChainRoots == nil {
		cfg.ChainRoots = cfg.Roots
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dns, err := client.NewRFC2136(cfg.DNS, client.RFC2136Deps{Clock: deps.Clock, Logger: log})
	if err != nil {
		return nil, err
	}
	return &runner{cfg: cfg, clock: deps.Clock, log: log, onStep: deps.OnStep, dns: dns,
		web:    client.NewHTTP01(client.HTTP01Config{Listen: cfg.HTTP01Listen}, client.HTTP01Deps{Listener: deps.HTTP01Listener, Logger: log}),
		http:   httpClient(cfg.Roots),
		names:  []string{cfg.Domain, "*." + cfg.Domain},
		report: Report{Server: cfg.DirectoryURL}}, nil
}

// directory makes the client (with a fresh account key) and reads the
// directory.
func (r *runner) directory(ctx context.Context) (string, error) {
	key, err := client.NewKey(client.KeyECDSAP256)
	if err != nil {
		return "", err
	}
	r.cl, err = client.New(client.Config{DirectoryURL: r.cfg.DirectoryURL, Roots: r.cfg.Roots, OrderRetries: -1,
		PollInterval: r.cfg.PollInterval, MaxPollInterval: r.cfg.MaxPollInterval},
		client.Deps{Clock: r.clock, AccountKey: key, Logger: r.log, Progress: r.clientStep})
	if err != nil {
		return "", err
	}
	d, err := r.cl.Directory(ctx)
	if err != nil {
		return "", err
	}
	var profiles []string
	for p := range d.Profiles {
		profiles = append(profiles, p)
	}
	slices.Sort(profiles)
	ari := "no"
	if d.RenewalInfo != "" {
		ari = "yes"
	}
	return fmt.Sprintf("ARI %s, profiles [%s]", ari, strings.Join(profiles, " ")), nil
}

func (r *runner) account(ctx context.Context) (string, error) {
	a, _, err := r.cl.Register(ctx)
	if err != nil {
		return "", err
	}
	return a.URL, nil
}

// clientStep turns the client's steps into rows while recording.
func (r *runner) clientStep(s client.Step) {
	if !r.recording {
		return
	}
	name := map[string]string{"authorize": "validate " + s.Identifier, "certificate": "download"}[s.Name]
	if name == "" {
		name = s.Name
	}
	res := Result{Step: name, Status: Pass, Duration: s.Duration, Detail: s.Message}
	if s.Err != nil {
		res = failure(name, s.Err)
		res.Duration = s.Duration
		r.recordedFail = true
	}
	r.report.Steps = append(r.report.Steps, res)
	if r.onStep != nil {
		r.onStep(res)
	}
}

// request is the order both issuances make: the base name by http-01,
// the wildcard by dns-01 (the only type a wildcard may use).
func (r *runner) request() client.Request {
	return client.Request{Names: r.names, Profile: r.cfg.Profile,
		Challenges: []string{client.ChallengeHTTP01, client.ChallengeDNS01},
		Solvers:    map[string]client.Solver{client.ChallengeHTTP01: r.web, client.ChallengeDNS01: r.dns}}
}

// issue is order → validation → finalize → download, one row each.
func (r *runner) issue(ctx context.Context) (string, error) {
	r.recording = true
	crt, err := r.cl.Issue(ctx, r.request())
	r.recording = false
	if err != nil && r.recordedFail {
		return "", errRecorded
	}
	r.first = crt
	return "", err
}

// chain verifies the leaf through the served intermediates to a root.
func (r *runner) chain(context.Context) (string, error) {
	leaf := r.first.Leaf
	inter := x509.NewCertPool()
	var path []string
	for _, der := range r.first.Chain[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return "", fmt.Errorf("chain: %w", err)
		}
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: r.cfg.ChainRoots, Intermediates: inter,
		DNSName: r.cfg.Domain, CurrentTime: r.clock.Now()})
	if err != nil {
		return "", fmt.Errorf("leaf serial %x does not verify to a trusted root: %w", leaf.SerialNumber, err)
	}
	for _, n := range r.names {
		if !slices.Contains(leaf.DNSNames, n) {
			return "", fmt.Errorf("leaf lacks %s (has %v)", n, leaf.DNSNames)
		}
	}
	for _, c := range chains[0] {
		path = append(path, c.Subject.CommonName)
	}
	return strings.Join(path, " → "), nil
}

// ari fetches renewal-info and checks the window lies inside validity.
func (r *runner) ari(ctx context.Context) (string, error) {
	ri, err := r.cl.RenewalInfo(ctx, r.first.Leaf)
	if err != nil {
		return "", err
	}
	leaf := r.first.Leaf
	if !ri.Start.Before(ri.End) || ri.Start.Before(leaf.NotBefore) || ri.End.After(leaf.NotAfter) {
		return "", fmt.Errorf("suggested window %s – %s is not inside the validity %s – %s",
			ri.Start.Format(time.RFC3339), ri.End.Format(time.RFC3339),
			leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	frac := func(t time.Time) float64 { return 100 * float64(t.Sub(leaf.NotBefore)) / float64(life) }
	return fmt.Sprintf("window %s – %s (%.1f–%.1f %% of the lifetime), Retry-After %s",
		ri.Start.UTC().Format(time.RFC3339), ri.End.UTC().Format(time.RFC3339), frac(ri.Start), frac(ri.End), ri.RetryAfter), nil
}

// renew orders the same names with replaces and checks the order echoes it.
func (r *runner) renew(ctx context.Context) (string, error) {
	certID, err := client.CertID(r.first.Leaf)
	if err != nil {
		return "", err
	}
	req := r.request()
	req.Replaces = certID
	crt, err := r.cl.Issue(ctx, req)
	if err != nil {
		return "", err
	}
	r.second = crt
	if crt.Replaces != certID {
		return "", fmt.Errorf("order %s has replaces %q, want %q", crt.OrderURL, crt.Replaces, certID)
	}
	return fmt.Sprintf("order %s replaces %s; new serial %x", crt.OrderURL, certID, crt.Leaf.SerialNumber), nil
}

// revoke revokes the first certificate as superseded, with the account key.
func (r *runner) revoke(ctx context.Context) (string, error) {
	if err := r.cl.Revoke(ctx, r.first.Chain[0], nil, acme.CRLReasonSuperseded); err != nil {
		return "", err
	}
	return fmt.Sprintf("serial %x revoked (superseded)", r.first.Leaf.SerialNumber), nil
}
