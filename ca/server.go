package ca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/store"
)

// Server is the ACME server. Build it with New, serve Handler on the ACME
// listener, and keep Run going for as long as it serves: Run owns the
// workers that validate challenges and issue certificates. Safe for
// concurrent use; it holds no lock on the request path.
type Server struct {
	cfg              Config
	clock            clock.PassiveClock
	log              *slog.Logger
	store            store.Store
	pki              *pki.Hierarchy
	validator        Validator
	limiter          Limiter
	journal          Journal
	faults           Faults
	policy           *policy.Policy
	nonces           *nonces
	eabKeys          map[string][]byte
	jobs             chan job
	dirKey           string // Boulder's random directory entry
	crls             crlCache
	keys             accountKeys
	incidents        incidents
	renewalOverrides renewalOverrides // per-serial renewal-info bodies
	metrics          *Metrics         // nil records nothing
	paths            paths            // the URL paths of cfg.Paths
	claims           claims           // issuances and validations queued or running
}

// job is asynchronous work: a validation or an issuance. It runs with a
// context that is not the request's, and must finish on its own.
type job func(ctx context.Context)

// New checks cfg and builds a Server. It starts no goroutines.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Clock == nil || deps.Store == nil || deps.PKI == nil || deps.Validator == nil {
		return nil, errors.New("ca.New: Clock, Store, PKI and Validator are required")
	}
	ps, err := pathsFor(cfg.Paths)
	if err != nil {
		return nil, err
	}
	pol, err := policy.New(cfg.Policy)
	if err != nil {
		return nil, err
	}
	n, err := newNonces()
	if err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, clock: deps.Clock, log: log, store: deps.Store, pki: deps.PKI,
		validator: deps.Validator, limiter: deps.Limiter, journal: deps.Journal, faults: deps.Faults, policy: pol, nonces: n, jobs: make(chan job, 1024),
		eabKeys: map[string][]byte{}, dirKey: randomDirKey(), metrics: deps.Metrics, paths: ps}
	if s.limiter == nil {
		s.limiter = noLimits{}
	}
	if s.journal == nil {
		s.journal = noJournal{}
	}
	for kid, k := range cfg.EABKeys {
		s.eabKeys[kid], _ = b64Decode(k) // checked by Validate
	}
	return s, nil
}

// Run processes validations and issuances until ctx is done, then waits for
// the work in flight (each job bounds its own duration) and returns. As it
// starts, it re-queues the issuances and validations that the store lists
// as unfinished, those a previous process acknowledged and did not finish
// (see resume); requests are served meanwhile.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.resume(ctx) })
	for range s.cfg.ValidationWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.jobs:
					s.runJob(context.WithoutCancel(ctx), j)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// runJob runs j, turning a panic into a logged error so one bad job does
// not take the server down (validate and issue record their own outcome).
func (s *Server) runJob(ctx context.Context, j job) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("background job panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	j(ctx)
}

// enqueue hands j to Run's workers, waiting while they are all busy.
func (s *Server) enqueue(ctx context.Context, j job) error {
	select {
	case s.jobs <- j:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("enqueue: %w", ctx.Err())
	}
}

// noLimits is the Limiter of a server built without one.
type noLimits struct{}

func (noLimits) NewAccount(context.Context, netip.Addr) (func(), error) { return func() {}, nil }
func (noLimits) NewOrder(ctx context.Context, req ratelimit.NewOrderRequest) (func(), error) {
	if req.Replaces != nil { // the hook also validates "replaces"
		if _, err := req.Replaces(ctx); err != nil {
			return func() {}, err
		}
	}
	return func() {}, nil
}
func (noLimits) AuthzFailed(context.Context, int64, acme.Identifier) error { return nil }
func (noLimits) AuthzValid(context.Context, int64, acme.Identifier) error  { return nil }
func (noLimits) Issued(context.Context, int64, []acme.Identifier) error    { return nil }

// Handler returns the ACME HTTP handler: every route of reference §8 plus
// Pebble's /dir alias, wrapped in recovery, body limit and request logging.
func (s *Server) Handler() http.Handler { return s.middleware(s.routes()) }

// BundlePEM returns the trust bundle: the roots that sign leaves and the
// serving certificate.
func (s *Server) BundlePEM() []byte { return s.pki.BundlePEM() }
