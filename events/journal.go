package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// configPath is the YAML path of Config in fakeca's configuration file;
// every Validate message starts with it.
const configPath = "events"

// Capacity bounds and defaults.
const (
	// DefaultCapacity is the number of events kept when Config.Capacity is 0.
	DefaultCapacity = 10000
	// MaxCapacity is the largest Config.Capacity accepted (about 0.5 GB of
	// events in the worst case).
	MaxCapacity = 1000000
)

// Persistence tuning. The queue bounds what Append may hand to Run before
// events stop being persisted; the batch bounds one Sink.AppendEvents call;
// the timeout bounds a write in flight, and the final flush, at shutdown.
const (
	persistQueue = 4096
	persistBatch = 256
	flushTimeout = 10 * time.Second
)

// Config sizes the journal. The zero value is valid: DefaultCapacity
// events. A Config is plain data.
type Config struct {
	// Capacity is how many events the journal keeps in memory; when it is
	// full, each Append drops the oldest event. Default DefaultCapacity
	// (10000, about 5 MB). Raise it when a long load test must stay
	// explainable to its end; memory grows linearly with it.
	Capacity int `yaml:"capacity,omitempty"`
}

// Validate reports a bad field, naming it by its YAML path.
func (c Config) Validate() error {
	if c.Capacity < 0 || c.Capacity > MaxCapacity {
		return fmt.Errorf("%s.capacity: must be from 0 (default %d) to %d, got %d",
			configPath, DefaultCapacity, MaxCapacity, c.Capacity)
	}
	return nil
}

// Deps are the journal's collaborators. Only Clock is required.
type Deps struct {
	// Clock stamps each event's Time. Required.
	Clock clock.PassiveClock
	// Sink persists events; nil keeps them in memory only. With a Sink,
	// call Restore before the first Append and keep Run running.
	Sink Sink
	// Logger receives warnings when persistence fails or falls behind.
	// Nil means discard.
	Logger *slog.Logger
}

// Sink persists events for a Journal, so that they survive a restart. A
// FileSink writes them under --data-dir; a store backend may implement it
// too. Implementations must be safe for concurrent use and honor context
// cancellation.
type Sink interface {
	// AppendEvents durably appends events, which are in increasing Seq
	// order and follow every event appended before. It must not modify
	// or retain the slice or the events' slices and pointers after it
	// returns. An error means none, some or all were stored; the journal
	// logs it and does not retry.
	AppendEvents(ctx context.Context, events []Event) error
	// LoadEvents returns the newest limit events (all if limit <= 0),
	// oldest first, in the order they were appended.
	LoadEvents(ctx context.Context, limit int) ([]Event, error)
}

// Journal is the bounded, queryable event journal: a ring of the newest
// Capacity events with indexes by identifier, account and order. Build one
// with New; the zero value is not usable. All methods are safe for
// concurrent use.
//
// Delivery: Append is synchronous and in memory — when it returns, the
// event has its Seq and Time and Query sees it. It holds the journal's one
// mutex only to number, store and index the event (no I/O, no callbacks,
// no cross-package calls), so it is safe on the request path. Events are
// records, not hooks: nothing can veto or abort an event, and nothing is
// called back. Persistence is asynchronous: with a Sink, Append also hands
// the event to a bounded queue (4096 events) without blocking, and Run
// writes the queue to the Sink in batches, in Seq order. If the queue is
// full (the Sink is slower than the producers, or Run is not running), the
// event stays in memory but is not persisted, and a warning is logged.
// Sink errors are logged, never returned to producers, and not retried.
type Journal struct {
	clk      clock.PassiveClock
	log      *slog.Logger
	sink     Sink
	capacity uint64

	// mu guards buf through the indexes. queue is sent to only under mu,
	// so the Sink sees events in Seq order; dropped and running are atomic.
	mu      sync.RWMutex
	buf     []Event // ring: position p lives in buf[p%capacity]
	total   uint64  // positions used so far; the next event's position
	nextSeq uint64
	started bool // Append or Restore has run
	byIdent map[string][]uint64
	byAcct  map[int64][]uint64
	byOrder map[int64][]uint64
	queue   chan Event // nil without a Sink
	dropped atomic.Uint64
	running atomic.Bool
}

// New validates cfg and returns an empty journal. It starts no goroutine
// and does no I/O: call Restore to reload a Sink's events and Run to
// persist new ones.
func New(cfg Config, deps Deps) (*Journal, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		return nil, errors.New("events: Deps.Clock is required")
	}
	capacity := cfg.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	j := &Journal{clk: deps.Clock, log: deps.Logger, sink: deps.Sink, capacity: uint64(capacity),
		nextSeq: 1, byIdent: map[string][]uint64{}, byAcct: map[int64][]uint64{}, byOrder: map[int64][]uint64{}}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if j.sink != nil {
		j.queue = make(chan Event, persistQueue)
	}
	return j, nil
}

// Append records e and returns the Seq it was given. It overwrites e's Seq
// and Time (Time is the journal clock's now, in UTC) and copies e, so the
// caller keeps ownership of its slices. Append never fails and never
// blocks on I/O; see Journal for what happens with a Sink.
func (j *Journal) Append(e Event) uint64 {
	e = e.clone()
	queued := true
	j.mu.Lock()
	e.Seq, e.Time = j.nextSeq, j.clk.Now().UTC()
	j.nextSeq++
	j.started = true
	j.insert(e)
	if j.queue != nil {
		select {
		case j.queue <- e: // shares read-only slices with the ring
		default:
			queued = false
		}
	}
	j.mu.Unlock()
	if !queued && j.dropped.Add(1) == 1 {
		j.log.Warn("events: persistence queue full; events are kept in memory but not persisted until it drains (is Run running?)",
			"seq", e.Seq)
	}
	return e.Seq
}

// Restore reloads the Sink's newest Capacity events into an empty journal
// and continues numbering after the last one. Call it once, before the
// first Append; it returns the number of events restored (0 without a
// Sink). Events that are not in increasing Seq order (journals written by
// runs that skipped Restore) are renumbered in stored order, with a
// warning.
func (j *Journal) Restore(ctx context.Context) (int, error) {
	if j.sink == nil {
		return 0, nil
	}
	errLate := errors.New("events: Restore must be called once, before the first Append")
	j.mu.RLock()
	late := j.started
	j.mu.RUnlock()
	if late {
		return 0, errLate
	}
	evs, err := j.sink.LoadEvents(ctx, int(j.capacity))
	if err != nil {
		return 0, fmt.Errorf("events: restoring the journal: %w", err)
	}
	if uint64(len(evs)) > j.capacity {
		evs = evs[uint64(len(evs))-j.capacity:]
	}
	if !increasing(evs) {
		j.log.Warn("events: stored events are not in increasing seq order; renumbering them", "events", len(evs))
		for i := range evs {
			evs[i].Seq = uint64(i + 1)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.started {
		return 0, errLate
	}
	j.started = true
	for _, e := range evs {
		j.insert(e.clone())
		j.nextSeq = e.Seq + 1
	}
	return len(evs), nil
}

// increasing reports whether evs have non-zero, strictly increasing Seqs.
func increasing(evs []Event) bool {
	var last uint64
	for _, e := range evs {
		if e.Seq <= last {
			return false
		}
		last = e.Seq
	}
	return true
}

// Run writes appended events to the Sink until ctx is done, then flushes
// what is queued (each batch gets up to 10 s) and returns nil. Without a Sink it just
// waits for ctx. Start it once, in its own goroutine, after Restore; a
// second concurrent Run returns an error at once. Events appended after Run
// has returned stay in memory only.
func (j *Journal) Run(ctx context.Context) error {
	if !j.running.CompareAndSwap(false, true) {
		return errors.New("events: Run is already running")
	}
	defer j.running.Store(false)
	if j.sink == nil {
		<-ctx.Done()
		return nil
	}
	batch := make([]Event, 0, persistBatch)
	for {
		select {
		case <-ctx.Done():
			for {
				batch = j.fill(batch[:0])
				if len(batch) == 0 {
					return nil
				}
				j.write(ctx, batch)
			}
		case e := <-j.queue:
			batch = j.fill(append(batch[:0], e))
			j.write(ctx, batch)
		}
	}
}

// fill adds queued events to batch without blocking, up to persistBatch.
func (j *Journal) fill(batch []Event) []Event {
	for len(batch) < persistBatch {
		select {
		case e := <-j.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// write stores batch in the Sink. A write in flight when ctx ends still
// gets flushTimeout to finish, so shutdown does not tear a batch.
func (j *Journal) write(ctx context.Context, batch []Event) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := j.sink.AppendEvents(wctx, batch); err != nil {
		j.log.Error("events: persisting events failed; they are kept in memory only",
			"first_seq", batch[0].Seq, "last_seq", batch[len(batch)-1].Seq, "error", err)
	}
	if n := j.dropped.Swap(0); n > 0 {
		j.log.Warn("events: persistence queue was full; events were kept in memory but not persisted",
			"events", n)
	}
}
