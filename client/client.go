package client

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
	"k8s.io/utils/clock"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultPollInterval is the wait between polls when the server sends
	// no Retry-After: 1 s, as x/crypto/acme (and so cert-manager) waits.
	DefaultPollInterval = time.Second
	// DefaultMaxPollInterval caps a server's Retry-After while polling.
	DefaultMaxPollInterval = 10 * time.Second
	// DefaultOrderRetries is how often a new-order that failed with a 5xx
	// or a network error is retried within one attempt.
	DefaultOrderRetries = 3
	// DefaultRequestTimeout bounds one HTTP request: 90 s, cert-manager's.
	DefaultRequestTimeout = 90 * time.Second
	// userAgent is prepended to the fork's own User-Agent.
	userAgent = "fakeca-client"
)

// Config configures a Client. Only DirectoryURL is required; every other
// zero field takes the default named on it. A Config is plain data.
type Config struct {
	// DirectoryURL is the server's ACME directory, e.g.
	// https://127.0.0.1:14000/directory (fakeca) or
	// https://acme-staging-v02.api.letsencrypt.org/directory.
	DirectoryURL string
	// Roots verify the server's TLS certificate. Default nil: the system
	// roots. fakeca's serving certificate chains to its own bundle.
	Roots *x509.CertPool
	// Contact lists the account's contact URLs ("mailto:…") sent when an
	// account is registered. Default none, which Let's Encrypt accepts.
	Contact []string
	// PollInterval is the wait between polls of a pending authorization
	// or a processing order when the server sends no Retry-After.
	// Default 1 s, as cert-manager's library.
	PollInterval time.Duration
	// MaxPollInterval caps a server's Retry-After while polling. Default
	// 10 s; Boulder (and fakeca) send 3 s for processing orders.
	MaxPollInterval time.Duration
	// OrderRetries is how often a new-order failing with a 5xx or a network
	// error is retried within one Issue, after OrderRetryDelay (5 s, 10 s,
	// 20 s, …: cert-manager's order workqueue, which retries for ever). A
	// 4xx is never retried: cert-manager marks the Order errored. Default
	// 3; negative means none.
	OrderRetries int
	// RequestTimeout bounds one HTTP request. Default 90 s, cert-manager's.
	RequestTimeout time.Duration
}

// Deps are a Client's collaborators. Clock and AccountKey are required.
type Deps struct {
	// Clock times every wait and every reported duration.
	Clock clock.Clock
	// AccountKey signs requests (ECDSA P-256/P-384/P-521 or RSA). It is the
	// account's identity: the server finds the account by it.
	AccountKey crypto.Signer
	// Logger receives debug lines; nil discards them.
	Logger *slog.Logger
	// Progress, if set, is called synchronously after every step.
	Progress func(Step)
	// HTTPClient, if set, is used instead of one built from Config.Roots
	// and Config.RequestTimeout.
	HTTPClient *http.Client
}

// Step is one finished step of a client operation, as Deps.Progress gets
// it. Err is nil when the step succeeded.
type Step struct {
	// Name is the kind of step: account, order, authorize, finalize,
	// certificate, revoke, renewal-info, deactivate, key-change.
	Name string
	// Message says what happened, e.g. "account registered https://…".
	Message string
	// URL is the resource the step created or used, if any.
	URL string
	// Identifier is the identifier an authorize step was about.
	Identifier string
	// Duration is the step's time on the injected clock.
	Duration time.Duration
	// Err is why the step failed; Problem(Err) finds the server's problem.
	Err error
}

// Client is an ACME client bound to one directory and one account key.
// Build it with New; the zero value is not usable. It is not safe for
// concurrent use (the fork updates its key and account URL in place): use
// one Client per goroutine.
type Client struct {
	cfg      Config
	clock    clock.Clock
	log      *slog.Logger
	progress func(Step)
	acme     *acme.Client
	jws      *poster
}

// New checks cfg, applies defaults and builds a Client. It makes no
// network request.
func New(cfg Config, deps Deps) (*Client, error) {
	if cfg.DirectoryURL == "" {
		return nil, errors.New("client: DirectoryURL is required")
	}
	if u, err := url.Parse(cfg.DirectoryURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("client: directory URL %q is not an http(s) URL", cfg.DirectoryURL)
	}
	if deps.Clock == nil || deps.AccountKey == nil {
		return nil, errors.New("client: Deps.Clock and Deps.AccountKey are required")
	}
	if _, err := jwsAlgorithm(deps.AccountKey); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, clock: deps.Clock, log: deps.Logger, progress: deps.Progress}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	httpc := deps.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: cfg.RequestTimeout, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     &tls.Config{RootCAs: cfg.Roots, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	c.acme = &acme.Client{Key: deps.AccountKey, HTTPClient: httpc, DirectoryURL: cfg.DirectoryURL,
		UserAgent: userAgent, RetryBackoff: c.nonceBackoff}
	c.jws = &poster{httpc: httpc, key: deps.AccountKey, wait: c.sleep, userAgent: userAgent}
	return c, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxPollInterval <= 0 {
		cfg.MaxPollInterval = DefaultMaxPollInterval
	}
	if cfg.OrderRetries == 0 {
		cfg.OrderRetries = DefaultOrderRetries
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	return cfg
}

// nonceBackoff is the fork's RetryBackoff: cert-manager's badNonce policy
// (NonceRetryDelay), waited on the injected clock. The fork then waits 1 ns
// on its own timer, so no wall-clock time passes outside c.clock.
func (c *Client) nonceBackoff(n int, r *http.Request, res *http.Response) time.Duration {
	if res == nil || res.StatusCode != http.StatusBadRequest {
		return -1
	}
	d := NonceRetryDelay(n, time.Duration(rand.Int64N(int64(time.Second))))
	if d < 0 {
		return -1
	}
	if err := c.sleep(r.Context(), d); err != nil {
		return -1
	}
	return time.Nanosecond
}

// sleep waits d on the injected clock, or until ctx ends.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// report sends a finished step to Deps.Progress.
func (c *Client) report(s Step, start time.Time) {
	s.Duration = c.clock.Since(start)
	if s.Err != nil {
		c.log.Debug("step failed", "step", s.Name, "identifier", s.Identifier, "err", s.Err)
	} else {
		c.log.Debug("step done", "step", s.Name, "identifier", s.Identifier, "url", s.URL)
	}
	if c.progress != nil {
		c.progress(s)
	}
}

// Directory fetches (once) and returns the server's directory.
func (c *Client) Directory(ctx context.Context) (acme.Directory, error) {
	d, err := c.acme.Discover(ctx)
	if err != nil {
		return acme.Directory{}, fmt.Errorf("directory %s: %w", c.cfg.DirectoryURL, err)
	}
	return d, nil
}

// AccountURL is the account URL (the JWS "kid") once Register or Account
// has found it, else "".
func (c *Client) AccountURL() string { return string(c.acme.KID) }

// KeyAuthorization is the key authorization for a challenge token with
// the client's current account key (RFC 8555 §8.1).
func (c *Client) KeyAuthorization(token string) (string, error) {
	thumb, err := acme.JWKThumbprint(c.acme.Key.Public())
	if err != nil {
		return "", err
	}
	return token + "." + thumb, nil
}
