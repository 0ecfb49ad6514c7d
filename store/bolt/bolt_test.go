package bolt_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/bolt"
	"github.com/fakeca/fakeca/store/storetest"
)

var _ store.Store = (*bolt.Store)(nil)

// open opens the database at path and closes it when the test ends.
func open(t testing.TB, path string, opts bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func tempPath(t testing.TB) string { return filepath.Join(t.TempDir(), "fakeca.db") }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, tempPath(t), bolt.Options{NoSync: true})
	})
}

// TestConformanceSync runs the suite with fsync on, as fakeca runs.
func TestConformanceSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fsyncs every write")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, tempPath(t), bolt.Options{})
	})
}

func t0() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

func dns(name string) acme.Identifier { return acme.Identifier{Type: acme.TypeDNS, Value: name} }

func TestOptionsValidate(t *testing.T) {
	cases := map[string]struct {
		opts bolt.Options
		want string
	}{
		"zero value":       {bolt.Options{}, ""},
		"timeout and sync": {bolt.Options{Timeout: time.Second, NoSync: true}, ""},
		"negative timeout": {bolt.Options{Timeout: -1}, "timeout: must be >= 0, got -1ns"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.opts.Validate()
			if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || (err != nil && got != tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := bolt.Open(tempPath(t), bolt.Options{Timeout: -1}); err == nil {
		t.Error("Open with a negative timeout succeeded")
	}
}

// TestLocked checks that a second Open of a file in use waits for the lock
// and gives up after the timeout.
func TestLocked(t *testing.T) {
	path := tempPath(t)
	open(t, path, bolt.Options{NoSync: true})
	s, err := bolt.Open(path, bolt.Options{Timeout: 20 * time.Millisecond})
	if err == nil {
		_ = s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
}

// TestEmptyKeys checks that empty strings, which bbolt rejects as keys,
// work as account keys, serials and key hashes.
func TestEmptyKeys(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempPath(t), bolt.Options{NoSync: true})
	a, err := s.CreateAccount(ctx, store.Account{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetAccountByKeyID(ctx, ""); err != nil || got.ID != a.ID {
		t.Errorf("GetAccountByKeyID(\"\") = %d, %v", got.ID, err)
	}
	if err := s.AddCertificate(ctx, store.Certificate{Revoked: true}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RevokedCertificates(ctx, "", 0, time.Time{}.Add(-time.Hour)); err != nil || len(got) != 1 {
		t.Errorf("RevokedCertificates = %d certificates, %v", len(got), err)
	}
	if err := s.BlockKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if blocked, err := s.KeyBlocked(ctx, ""); err != nil || !blocked {
		t.Errorf("KeyBlocked(\"\") = %v, %v", blocked, err)
	}
}

// TestMutatorPanic checks that a panicking mutator reaches its caller,
// writes nothing and leaves the store usable.
func TestMutatorPanic(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempPath(t), bolt.Options{NoSync: true})
	o, err := s.CreateOrder(ctx, store.Order{CertSerial: "before"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the mutator's panic did not reach the caller")
			}
		}()
		_, _ = s.UpdateOrder(ctx, o.ID, func(o *store.Order) error { o.CertSerial = "after"; panic("boom") })
	}()
	got, err := s.UpdateOrder(ctx, o.ID, func(*store.Order) error { return nil })
	if err != nil || got.CertSerial != "before" {
		t.Fatalf("UpdateOrder after the panic = %q, %v; want \"before\"", got.CertSerial, err)
	}
}

// TestBatchWithFailures has writes that fail share batches with writes
// that succeed, with fsync on so that batches form: a batch is retried
// without its failures, so successes run more than once and must still
// count once.
func TestBatchWithFailures(t *testing.T) {
	const n = 64
	ctx := t.Context()
	s := open(t, tempPath(t), bolt.Options{})
	o, err := s.CreateOrder(ctx, store.Order{}, []store.Authorization{{}})
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("refused")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error {
				a.Expires = a.Expires.Add(time.Second)
				if i%2 == 1 {
					return fail
				}
				return nil
			})
			if (i%2 == 1) != errors.Is(err, fail) {
				t.Errorf("write %d: error %v", i, err)
			}
		})
	}
	wg.Wait()
	a, err := s.GetAuthz(ctx, o.AuthzIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Expires.Sub(time.Time{}); got != n/2*time.Second {
		t.Errorf("authz counted %v of updates, want %v", got, n/2*time.Second)
	}
}

// TestReadDuringWrite checks that a read neither waits for a write in
// progress nor sees it.
func TestReadDuringWrite(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempPath(t), bolt.Options{NoSync: true})
	o, err := s.CreateOrder(ctx, store.Order{CertSerial: "before"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		var once sync.Once
		_, err := s.UpdateOrder(ctx, o.ID, func(o *store.Order) error {
			once.Do(func() { close(inside); <-release }) // holds the write transaction open
			o.CertSerial = "after"
			return nil
		})
		done <- err
	}()
	<-inside
	got, err := s.GetOrder(ctx, o.ID) // would deadlock if reads waited for the writer
	close(release)
	if err != nil || got.CertSerial != "before" {
		t.Errorf("GetOrder during the write = %q, %v; want \"before\"", got.CertSerial, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetOrder(ctx, o.ID); got.CertSerial != "after" {
		t.Errorf("GetOrder after the write = %q, want \"after\"", got.CertSerial)
	}
}
