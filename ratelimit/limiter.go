package ratelimit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"k8s.io/utils/clock"
)

// Deps are the Limiter's collaborators. Only Clock is required.
type Deps struct {
	// Clock supplies "now" for every decision. Required.
	Clock clock.PassiveClock
	// Logger receives warnings when a backend fails (the request is then
	// let through, as Boulder does) and one info line per pause. Nil means
	// discard.
	Logger *slog.Logger
	// Source stores the buckets. Nil means a new in-memory source, so a
	// restart refills every bucket; store/bolt's Store.Buckets keeps them
	// on disk, as Boulder keeps them in Redis.
	Source Source
	// History remembers issued identifier sets for the renewal exemption.
	// Nil means a new in-memory history (store/bolt: Store.History).
	History History
	// Pauses stores paused identifiers. Nil means a new in-memory store
	// (store/bolt: Store.Pauses).
	Pauses Pauses
	// UnpauseKey is the HS256 key of unpause JWTs, at least 32 bytes. Nil
	// means 32 random bytes chosen by New, so links die with the process;
	// pass a kept key (store/bolt: Store.UnpauseKey) for links that
	// survive a restart.
	UnpauseKey []byte
	// Observer, if set, is called once per limit decided in a check or
	// spend, with the limit and whether it allowed the request. It runs
	// synchronously on the request path: keep it fast and non-blocking.
	Observer func(limit Name, allowed bool)
	// Jitter returns a number in [0,1) that scales the 0–3 % Retry-After
	// jitter. Nil means math/rand/v2.Float64. Tests pin it.
	Jitter func() float64
}

// Limiter enforces Let's Encrypt's rate limits. Build one with New; the
// zero value is not usable. Safe for concurrent use. It starts no
// goroutines and holds no lock while calling its Source, History or Pauses.
type Limiter struct {
	clk         clock.PassiveClock
	log         *slog.Logger
	src         Source
	hist        History
	pauses      Pauses
	reg         registry
	requests    *requestLimiter
	observe     func(Name, bool)
	jitter      func() float64
	signer      jose.Signer
	hmacKey     []byte
	unpauseBase string
	jwtLifetime time.Duration
	pages       *template.Template
	scratch     sync.Pool // *scratch
	// renewals is whether a limit the renewal exemption lifts is in force;
	// without one the issuance history is neither read nor written.
	renewals bool
}

// New validates cfg and returns a Limiter.
func New(cfg Config, deps Deps) (*Limiter, error) {
	b, err := cfg.build()
	if err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		return nil, errors.New("ratelimit: Deps.Clock is required")
	}
	l := &Limiter{clk: deps.Clock, log: deps.Logger, src: deps.Source, hist: deps.History,
		pauses: deps.Pauses, reg: b.reg, observe: deps.Observer, jitter: deps.Jitter,
		hmacKey: deps.UnpauseKey, unpauseBase: b.unpauseBase, jwtLifetime: b.jwtLifetime,
		renewals: b.reg.configured(NewOrdersPerAccount, CertificatesPerDomain, CertificatesPerDomainPerAccount)}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.src == nil {
		l.src = newMemSource()
	}
	if l.hist == nil {
		l.hist = NewMemoryHistory()
	}
	if l.pauses == nil {
		l.pauses = NewMemoryPauses()
	}
	if l.jitter == nil {
		l.jitter = mrand.Float64
	}
	if l.hmacKey == nil {
		l.hmacKey = make([]byte, 32)
		_, _ = rand.Read(l.hmacKey)
	} else if len(l.hmacKey) < 32 {
		return nil, fmt.Errorf("ratelimit: Deps.UnpauseKey must be at least 32 bytes, got %d", len(l.hmacKey))
	}
	if l.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: l.hmacKey}, nil); err != nil {
		return nil, fmt.Errorf("ratelimit: unpause JWT signer: %w", err)
	}
	if l.pages, err = parsePages(); err != nil {
		return nil, err
	}
	l.requests = newRequestLimiter(b.requests)
	return l, nil
}

// mode says what a transaction does; Boulder's check/spend flags.
type mode uint8

const (
	modeCheck         mode = 1 << iota // contributes to the batch decision
	modeSpend                          // persisted when the batch is allowed
	modeCheckAndSpend = modeCheck | modeSpend
)

// txn is one bucket operation: Boulder's Transaction. Check-only
// transactions deny without spending; spend-only ones spend best-effort and
// never deny. Plain data.
type txn struct {
	key  string
	lim  *limit
	cost int64
	mode mode
}

// scratch holds a batch's reusable buffers so that the hot path does not
// allocate.
type scratch struct {
	keys  []string
	tats  []int64
	wkeys []string
	olds  []int64
	news  []int64
}

func (l *Limiter) getScratch(txns []txn) *scratch {
	s, _ := l.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	s.keys = s.keys[:0]
	for _, t := range txns {
		s.keys = append(s.keys, t.key)
	}
	if cap(s.tats) < len(txns) {
		s.tats = make([]int64, len(txns))
	}
	s.tats = s.tats[:len(txns)]
	return s
}

func (l *Limiter) putScratch(s *scratch) {
	clear(s.keys)
	clear(s.wkeys[:cap(s.wkeys)])
	l.scratch.Put(s)
}

// detach removes cancellation from ctx so that a client hanging up cannot
// leave a batch half-written; a context that cannot be cancelled is kept
// as is (no allocation on the hot path).
func detach(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// maxAttempts bounds compare-and-swap retries under contention.
const maxAttempts = 16

// errContention is returned when a batch lost its compare-and-swap
// maxAttempts times in a row.
var errContention = errors.New("ratelimit: too much contention on a bucket")

// spend decides a batch and, if it is allowed, persists every spending
// transaction whose own bucket had room (Boulder's BatchSpend). Keys in a
// batch must be distinct. The returned decision is the stricter of the
// checking transactions'.
func (l *Limiter) spend(ctx context.Context, txns []txn) (decision, error) {
	if len(txns) == 0 {
		return allowAll(), nil
	}
	ctx = detach(ctx)
	s := l.getScratch(txns)
	defer l.putScratch(s)
	for range maxAttempts {
		if err := l.src.Get(ctx, s.keys, s.tats); err != nil {
			return decision{}, fmt.Errorf("ratelimit: reading %d buckets: %w", len(s.keys), err)
		}
		now := l.clk.Now().UnixNano()
		batch := allowAll()
		s.wkeys, s.olds, s.news = s.wkeys[:0], s.olds[:0], s.news[:0]
		for i, t := range txns {
			d := gcraSpend(now, t.lim, t.cost, s.tats[i])
			d.txn = t
			if d.allowed && t.mode&modeSpend != 0 && d.newTAT != s.tats[i] {
				s.wkeys, s.olds, s.news = append(s.wkeys, t.key), append(s.olds, s.tats[i]), append(s.news, d.newTAT)
			}
			if t.mode&modeCheck != 0 {
				batch = stricter(batch, d)
			}
		}
		if batch.allowed && len(s.wkeys) > 0 {
			ok, err := l.src.CompareAndSwap(ctx, s.wkeys, s.olds, s.news)
			if err != nil {
				return decision{}, fmt.Errorf("ratelimit: writing %d buckets: %w", len(s.wkeys), err)
			}
			if !ok {
				continue
			}
		}
		l.report(now, txns, s.tats)
		return batch, nil
	}
	return decision{}, errContention
}

// report tells the Observer how each transaction went.
func (l *Limiter) report(now int64, txns []txn, tats []int64) {
	if l.observe == nil {
		return
	}
	for i, t := range txns {
		l.observe(t.lim.name, gcraSpend(now, t.lim, t.cost, tats[i]).allowed)
	}
}

// refund gives back what the spending transactions of txns took (Boulder's
// BatchRefund): check-only transactions and missing buckets are skipped,
// and no bucket grows past its burst.
func (l *Limiter) refund(ctx context.Context, txns []txn) error {
	ctx = detach(ctx)
	s := l.getScratch(txns)
	defer l.putScratch(s)
	for range maxAttempts {
		if err := l.src.Get(ctx, s.keys, s.tats); err != nil {
			return fmt.Errorf("ratelimit: reading %d buckets: %w", len(s.keys), err)
		}
		now := l.clk.Now().UnixNano()
		s.wkeys, s.olds, s.news = s.wkeys[:0], s.olds[:0], s.news[:0]
		for i, t := range txns {
			if t.mode&modeSpend == 0 || s.tats[i] == 0 {
				continue
			}
			if tat := gcraRefund(now, t.lim, t.cost, s.tats[i]); tat != s.tats[i] {
				s.wkeys, s.olds, s.news = append(s.wkeys, t.key), append(s.olds, s.tats[i]), append(s.news, tat)
			}
		}
		if len(s.wkeys) == 0 {
			return nil
		}
		ok, err := l.src.CompareAndSwap(ctx, s.wkeys, s.olds, s.news)
		if err != nil {
			return fmt.Errorf("ratelimit: writing %d buckets: %w", len(s.wkeys), err)
		}
		if ok {
			return nil
		}
	}
	return errContention
}

// refunder returns a function that refunds txns once, however often it is
// called; nothing is refunded for a batch without spending transactions.
func (l *Limiter) refunder(ctx context.Context, txns []txn) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			if err := l.refund(ctx, txns); err != nil {
				l.log.WarnContext(ctx, "rate limit refund failed", "error", err)
			}
		})
	}
}

// noRefund is the refund function of a request that spent nothing.
func noRefund() {}

// exhaust empties a bucket: its TAT becomes now + burst offset, so the next
// request of cost 1 waits one emission interval.
func (l *Limiter) exhaust(ctx context.Context, key string, lim *limit) (int64, error) {
	ctx = detach(ctx)
	keys := []string{key}
	var old [1]int64
	for range maxAttempts {
		if err := l.src.Get(ctx, keys, old[:]); err != nil {
			return 0, fmt.Errorf("ratelimit: reading bucket: %w", err)
		}
		tat := l.clk.Now().UnixNano() + lim.offset
		ok, err := l.src.CompareAndSwap(ctx, keys, old[:], []int64{tat})
		if err != nil {
			return 0, fmt.Errorf("ratelimit: writing bucket: %w", err)
		}
		if ok {
			return tat, nil
		}
	}
	return 0, errContention
}
