package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/acme"
)

// Sentinel errors of the run-time API.
var (
	// ErrExists is returned (wrapped) by Add for a name already in use.
	ErrExists = errors.New("a rule with this name already exists")
	// ErrHandled is returned by Check when the action has written the
	// response or killed the connection: the handler must return without
	// writing anything.
	ErrHandled = errors.New("faults: response already written by a fault")
)

// Deps are the Engine's collaborators.
type Deps struct {
	// Clock times windows and delays. Required; tests pass a fake clock
	// and step it.
	Clock clock.Clock
	// Logger gets one INFO line per firing ("fault fired", with rule,
	// operation, method, account, identifier, hits). Nil means discard.
	Logger *slog.Logger
	// OnFire, if set, is called synchronously each time a rule fires,
	// after its counters moved, with no lock held: feed the event journal
	// and metrics from it. It must not block, nor modify the Rule (whose
	// pointers it shares with the engine).
	OnFire func(Rule, Request)
}

// Request describes one request or asynchronous step to Match. Fill what
// is known: a field left at its zero value fails every rule that filters
// on it. Plain data.
type Request struct {
	// Operation is what is being done. Required.
	Operation Operation
	// Method is the HTTP method; empty for validation and issuance.
	Method string
	// Identifiers are the request's, order's or authorization's
	// identifiers (an order's may include "*.example.com").
	Identifiers []acme.Identifier
	// AccountID is the authenticated account, 0 if none.
	AccountID int64
	// Profile is the order's resolved profile name, "" if none.
	Profile string
}

// Engine holds the rules and decides which fires. Build it with New; the
// zero value is not usable. Safe
// for concurrent use: Match reads an immutable rule set through an atomic
// pointer, so it takes no lock and allocates nothing unless a rule with a
// probability or jitter draws (a per-rule mutex) or a rule fires (logging).
// Add, Delete and Clear copy the set and swap it in; they take effect for
// the next request.
type Engine struct {
	clock  clock.Clock
	log    *slog.Logger
	onFire func(Rule, Request)
	rules  atomic.Pointer[ruleSet]
	mu     sync.Mutex // serializes writers of rules
}

// ruleSet is an immutable list of rules. Rules are shared between sets so
// that their counters survive changes to other rules.
type ruleSet struct {
	rules []*rule
	ops   opMask // union of the rules' operations
	late  bool   // some rule filters on identifier, account or profile
}

// rule is a compiled Rule with its counters.
type rule struct {
	src      Rule   // as given, for List and OnFire
	action   Action // with defaults filled in
	ops      opMask
	listed   bool // ops came from the rule, not the default
	method   string
	glob     glob
	hasGlob  bool
	account  int64
	profile  string
	detail   bool // filters on identifier, account or profile
	nth      int64
	every    int64
	max      int64
	prob     float64
	windowed bool
	from, to time.Time
	added    time.Time

	seen atomic.Int64 // requests that passed the filters
	hits atomic.Int64 // firings

	mu  sync.Mutex // guards rng
	rng *rand.Rand // nil unless prob > 0 or action.Jitter > 0
}

// New checks cfg and builds an Engine holding its rules; relative windows
// start now. It starts no goroutines.
func New(cfg Config, deps Deps) (*Engine, error) {
	if deps.Clock == nil {
		return nil, errors.New("faults.New: Clock is required")
	}
	rules, err := cfg.compile(deps.Clock.Now())
	if err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{clock: deps.Clock, log: log, onFire: deps.OnFire}
	e.rules.Store(newRuleSet(rules))
	return e, nil
}

func newRuleSet(rules []*rule) *ruleSet {
	rs := &ruleSet{rules: rules}
	for _, r := range rules {
		rs.late = rs.late || r.detail
		rs.ops |= r.ops
	}
	return rs
}

// stage selects the rules one evaluation point considers.
type stage uint8

const (
	stageAll   stage = iota // every rule (Match)
	stageEarly              // rules without identifier/account/profile (Middleware)
	stageLate               // rules with them (Check after Middleware)
)

// Match returns the action of the first rule, in order, that fires for
// req, counting the firing and logging it. Rules after it are not
// consulted (their counters do not move). Use it where no HTTP request is
// at hand (validation, issuance); for requests use Middleware and Check,
// which call it in two halves. Jitter is already drawn into Delay or
// ValidationDelay.
func (e *Engine) Match(req Request) (Action, bool) {
	rs := e.rules.Load()
	if len(rs.rules) == 0 {
		return Action{}, false
	}
	a, fired, _ := e.eval(rs, &req, stageAll, 0)
	return a, fired
}

// eval tries the rules from index start in order; the first that fires
// wins. The early stage (Middleware, which does not know the account,
// identifiers or profile yet) stops at the first rule of the operation
// that filters on them and reports its index, where the late stage
// (Check) resumes with every rule, so rules are always tried in order.
func (e *Engine) eval(rs *ruleSet, req *Request, st stage, start int) (Action, bool, int) {
	bit := req.Operation.bit()
	for i := start; i < len(rs.rules); i++ {
		r := rs.rules[i]
		if r.ops&bit == 0 {
			continue
		}
		if st == stageEarly && r.detail {
			return Action{}, false, i
		}
		if !r.try(req, e.clock) {
			continue
		}
		a := r.action
		if a.Jitter > 0 {
			j := time.Duration(r.float() * float64(a.Jitter))
			if req.Operation == OpValidation {
				a.ValidationDelay += j
			} else {
				a.Delay += j
			}
			a.Jitter = 0
		}
		e.fired(r, *req)
		return a, true, i
	}
	return Action{}, false, len(rs.rules)
}

// try reports whether r fires for req (whose operation r covers), moving
// its counters.
func (r *rule) try(req *Request, clk clock.PassiveClock) bool {
	if r.method != "" && r.method != req.Method ||
		r.account != 0 && r.account != req.AccountID ||
		r.profile != "" && r.profile != req.Profile ||
		r.hasGlob && !r.matchIdentifiers(req.Identifiers) {
		return false
	}
	if r.windowed {
		now := clk.Now()
		if now.Before(r.from) || !r.to.IsZero() && !now.Before(r.to) {
			return false
		}
	}
	if r.max > 0 && r.hits.Load() >= r.max {
		return false
	}
	n := r.seen.Add(1)
	if r.nth > 0 && n != r.nth || r.every > 0 && n%r.every != 0 {
		return false
	}
	if r.prob > 0 && r.float() >= r.prob {
		return false
	}
	for {
		h := r.hits.Load()
		if r.max > 0 && h >= r.max {
			return false
		}
		if r.hits.CompareAndSwap(h, h+1) {
			return true
		}
	}
}

// float draws from the rule's generator, in [0, 1).
func (r *rule) float() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.Float64()
}

func (r *rule) matchIdentifiers(ids []acme.Identifier) bool {
	for _, id := range ids {
		if r.glob.match(id.Value) {
			return true
		}
	}
	return false
}

// fired logs a firing and calls OnFire.
func (e *Engine) fired(r *rule, req Request) {
	attrs := []slog.Attr{slog.String("rule", r.src.Name), slog.String("operation", string(req.Operation)),
		slog.Int64("hits", r.hits.Load())}
	if req.Method != "" {
		attrs = append(attrs, slog.String("method", req.Method))
	}
	if req.AccountID != 0 {
		attrs = append(attrs, slog.Int64("account", req.AccountID))
	}
	if len(req.Identifiers) > 0 {
		vals := make([]string, len(req.Identifiers))
		for i, id := range req.Identifiers {
			vals[i] = id.Value
		}
		attrs = append(attrs, slog.Any("identifier", vals))
	}
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "fault fired", attrs...)
	if e.onFire != nil {
		e.onFire(r.src, req)
	}
}

// Wait blocks for d on the engine's clock, or until ctx is done (then it
// returns ctx's error). Use it to honour Delay and ValidationDelay outside
// Middleware and Check.
func (e *Engine) Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := e.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("faults: delay interrupted: %w", ctx.Err())
	}
}
