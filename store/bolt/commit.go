package bolt

import (
	"errors"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// maxBatch caps the writes in one transaction, as bbolt's DB.Batch does.
const maxBatch = 1000

// committer group-commits writes: it runs the writes that arrive while a
// transaction is being committed together in the next transaction, with one
// fsync for all of them.
//
// There is no background goroutine and no timer. A write that finds no
// transaction in progress becomes the leader: it runs a transaction with
// every queued write (at first only its own), commits it, hands the results
// out, and, if writes queued up meanwhile, makes the first of them the next
// leader. A lone write therefore costs one commit, with no added delay (as
// with DB.Batch's MaxBatchDelay), and under load a batch holds everything
// that arrived during the previous commit. Each leader runs exactly one
// batch, the one holding its own write, so nobody works for others forever.
//
// A write whose function fails (or panics) is taken out and the batch is
// run again without it, from the start: the other functions run twice, and
// only the committed run counts. The failed write gets its own error, which
// it met in a state the committed transaction also passes through, so the
// outcome is as if the writes had run one by one.
//
// The zero value is not usable; newCommitter returns one. Safe for
// concurrent use; mu guards queue and leading, and is never held while a
// transaction runs.
type committer struct {
	db *bbolt.DB

	mu      sync.Mutex
	queue   []*call
	leading bool // a leader is running; when false, queue is empty
}

// call is one queued write. done receives its result, or errLead when the
// goroutine that queued it must lead the next batch.
type call struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// errLead tells a queued write to lead; it never leaves the package.
var errLead = errors.New("bolt: lead the next batch")

// panicked carries a function's panic back to the goroutine that queued
// it, which panics again.
type panicked struct{ v any }

func (p panicked) Error() string { return "bolt: write panicked" }

func newCommitter(db *bbolt.DB) *committer { return &committer{db: db} }

// do runs fn in a batched read-write transaction and returns once that
// transaction is committed (or fn failed). fn may run more than once.
func (c *committer) do(fn func(*bbolt.Tx) error) error {
	cl := &call{fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, cl)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if lead {
		c.lead()
	}
	for {
		err := <-cl.done
		if err != errLead {
			if p, ok := err.(panicked); ok {
				panic(p.v)
			}
			return err
		}
		c.lead()
	}
}

// lead runs one batch from the front of the queue, which holds the
// leader's own write, then passes the lead on or stands down.
func (c *committer) lead() {
	c.mu.Lock()
	n := min(len(c.queue), maxBatch)
	batch := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	c.run(batch)

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.queue, c.leading = nil, false // drop the drained backing array
		return
	}
	c.queue[0].done <- errLead
}

// run commits the calls of batch in one transaction and sends each its
// result. A call whose function fails is sent its error and removed, and
// the transaction is retried with the rest.
func (c *committer) run(batch []*call) {
	for len(batch) > 0 {
		failed := -1
		var ferr error
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, cl := range batch {
				if ferr = safeCall(cl.fn, tx); ferr != nil {
					failed = i
					return ferr
				}
			}
			return nil
		})
		if failed < 0 {
			for _, cl := range batch {
				cl.done <- err
			}
			return
		}
		batch[failed].done <- ferr
		batch = append(batch[:failed], batch[failed+1:]...)
	}
}

// safeCall calls fn, turning a panic into a panicked error.
func safeCall(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return fn(tx)
}
