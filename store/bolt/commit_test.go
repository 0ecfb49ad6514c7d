package bolt

import (
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

func testDB(t *testing.T) *bbolt.DB {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// queued returns how many writes wait in c's queue.
func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// TestCommitterGroups holds a leader's transaction open while writes queue
// up, and checks that those writes then commit together in one
// transaction, that a failing and a panicking one among them get their own
// outcome, and that the committer ends idle.
func TestCommitterGroups(t *testing.T) {
	const n = 10
	db := testDB(t)
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db)
	inside, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var once sync.Once
		err := c.do(func(*bbolt.Tx) error {
			once.Do(func() { close(inside); <-release })
			return nil
		})
		if err != nil {
			t.Errorf("leader: %v", err)
		}
	})
	<-inside
	fail := errors.New("refused")
	var mu sync.Mutex
	txs := map[int]int{} // committed-run transaction ID → writes in it
	for i := range n {
		wg.Go(func() {
			defer func() {
				if v := recover(); (v != nil) != (i == 2) {
					t.Errorf("write %d: recovered %v", i, v)
				}
			}()
			var txID int
			err := c.do(func(tx *bbolt.Tx) error {
				txID = tx.ID()
				switch i {
				case 1:
					return fail
				case 2:
					panic("boom")
				}
				return tx.Bucket([]byte("b")).Put([]byte{byte(i)}, []byte{1})
			})
			if (i == 1) != errors.Is(err, fail) {
				t.Errorf("write %d: %v", i, err)
			}
			if err == nil {
				mu.Lock()
				txs[txID]++
				mu.Unlock()
			}
		})
	}
	for c.queued() < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if len(txs) != 1 {
		t.Errorf("the queued writes committed in transactions %v, want one", txs)
	}
	if c.queued() != 0 || c.leading {
		t.Errorf("committer not idle: %d queued, leading %v", c.queued(), c.leading)
	}
}
