package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/client"
)

// DefaultDomain is the base name certificates are issued for: the order
// asks for it (http-01) and for "*." + it (dns-01).
const DefaultDomain = "e2e.fakeca.test"

// Config describes the server under test and how to answer challenges.
// Only DirectoryURL is required.
type Config struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// Roots verify the server's TLS (ACME and management); nil: system roots.
	Roots *x509.CertPool
	// ChainRoots are the roots the issued chain must lead to; nil: Roots.
	ChainRoots *x509.CertPool
	// MgmtURL is fakeca's management base URL (https://host:port); when
	// set, /cert-status-by-serial must report the revocation. Optional.
	MgmtURL string
	// Domain is the base name; default DefaultDomain. The server must
	// reach the http-01 responder for it and see TXT records added at
	// DNS.Server for "_acme-challenge." + it.
	Domain string
	// HTTP01Listen is the http-01 responder's address when Deps gives no
	// listener. Default 127.0.0.1:5002 (pebble-challtestsrv's port).
	HTTP01Listen string
	// DNS sends the dns-01 TXT records by RFC 2136; default
	// 127.0.0.1:8053, fakeca's DNS server.
	DNS client.RFC2136Config
	// Profile is requested for both orders; "" is the server's default.
	Profile string
	// PollInterval and MaxPollInterval tune the client's polling (see
	// client.Config); PollInterval also spaces CRL fetches. Default 1 s.
	PollInterval, MaxPollInterval time.Duration
	// CRLWait is how long the CRL may take to list a revoked serial
	// (fakeca's --crl-publish-delay; fakeca also dates CRLs to the whole
	// second, so a revocation can take up to 1 s to appear). Default 0:
	// the first fetch must list it.
	CRLWait time.Duration
}

// Deps are the run's collaborators; Clock is required.
type Deps struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// HTTP01Listener, if set, serves http-01 instead of binding
	// Config.HTTP01Listen (cmd binds it first to tell an in-process CA
	// its port).
	HTTP01Listener net.Listener
	// OnStep is called synchronously as each step finishes.
	OnStep func(Result)
}

// Status is a step's outcome.
type Status string

// Step outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Problem is the server's RFC 7807 problem behind a failure.
type Problem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Status int    `json:"status"`
}

// Result is one row of the report.
type Result struct {
	Step     string        `json:"step"`
	Status   Status        `json:"result"`
	Duration time.Duration `json:"-"` // "ms" in JSON
	Detail   string        `json:"detail,omitempty"`
	Error    string        `json:"error,omitempty"`
	Problem  *Problem      `json:"problem,omitempty"`
}

// Report is a whole run. OK is true when no step failed.
type Report struct {
	Server   string        `json:"server"`
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"-"` // "ms" in JSON
	Steps    []Result      `json:"steps"`
}

// Failed returns the failed step, if any.
func (r Report) Failed() (Result, bool) {
	for _, s := range r.Steps {
		if s.Status == Fail {
			return s, true
		}
	}
	return Result{}, false
}

// errSkip marks a step that does not apply (its error text says why).
var errSkip = errors.New("skipped")

// errRecorded marks a failure already reported as a row.
var errRecorded = errors.New("failure recorded")

// Run performs every step in order and stops at the first failure. The
// error is only for a run that could not start (bad Config or a responder
// that cannot bind); step failures are in the Report.
func Run(ctx context.Context, cfg Config, deps Deps) (Report, error) {
	r, err := newRunner(cfg, deps)
	if err != nil {
		return Report{}, err
	}
	if err := r.web.Start(ctx); err != nil {
		return Report{}, err
	}
	defer func() { _ = r.web.Shutdown(context.WithoutCancel(ctx)) }()
	start := r.clock.Now()
	for _, s := range r.steps() {
		if !r.do(ctx, s) {
			break
		}
	}
	r.report.Duration = r.clock.Since(start)
	_, failed := r.report.Failed()
	r.report.OK = !failed
	return r.report, nil
}

// step is one named check. A step with ownRows reports its rows itself
// (issue: order, validate…, finalize, download) and gets none of its own
// unless it fails before reporting any.
type step struct {
	name    string
	fn      func(context.Context) (string, error)
	ownRows bool
}

func (r *runner) steps() []step {
	return []step{
		{name: "directory", fn: r.directory},
		{name: "account", fn: r.account},
		{name: "issue", fn: r.issue, ownRows: true},
		{name: "chain", fn: r.chain},
		{name: "ari", fn: r.ari},
		{name: "renewal", fn: r.renew},
		{name: "revocation", fn: r.revoke},
		{name: "crl", fn: r.crl},
		{name: "ocsp", fn: r.ocsp},
		{name: "cert-status", fn: r.certStatus},
	}
}

// do runs one step and records its row; false stops the run.
func (r *runner) do(ctx context.Context, s step) bool {
	name := s.name
	start := r.clock.Now()
	detail, err := s.fn(ctx)
	switch {
	case err == nil && s.ownRows:
		return true
	case errors.Is(err, errRecorded):
		return false
	case errors.Is(err, errSkip):
		r.add(Result{Step: name, Status: Skip, Detail: strings.TrimSuffix(err.Error(), ": "+errSkip.Error())}, start)
		return true
	case err != nil:
		r.add(failure(name, err), start)
		return false
	}
	r.add(Result{Step: name, Status: Pass, Detail: detail}, start)
	return true
}

// add appends a row, timing it from start.
func (r *runner) add(res Result, start time.Time) {
	res.Duration = r.clock.Since(start)
	r.report.Steps = append(r.report.Steps, res)
	if r.onStep != nil {
		r.onStep(res)
	}
}

// failure is a failed row carrying the server's exact problem, if any.
func failure(name string, err error) Result {
	res := Result{Step: name, Status: Fail, Error: err.Error()}
	if p := client.Problem(err); p != nil {
		res.Problem = &Problem{Type: p.ProblemType, Detail: p.Detail, Status: p.StatusCode}
	}
	return res
}

// skip makes an errSkip saying why.
func skip(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errSkip)
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// httpClient is the client for the management and public listeners.
func httpClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}
