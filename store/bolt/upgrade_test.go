package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// writeFile creates a database file with the format byte and the given
// raw values, as an older fakeca left it.
func writeFile(t *testing.T, format byte, values map[string]map[int64]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket([]byte(bucketMeta))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte(keyFormat), []byte{format}); err != nil {
			return err
		}
		for name, vs := range values {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for id, v := range vs {
				if err := b.Put(idKey(id), unhex(t, v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenUpgrades: a file of an older format opens, the indexes its
// format lacked are filled (format 1: unfinished work; formats 1 and 2:
// account orders), the rate limiter's state is there and empty (formats 1
// to 3), and it is of the current format from then on. A format 2 or 3
// file may still hold format 1 values, as the order here is.
func TestOpenUpgrades(t *testing.T) {
	for _, format := range []byte{1, 2, 3} {
		t.Run(fmt.Sprintf("format %d", format), func(t *testing.T) {
			path := writeFile(t, format, map[string]map[int64]string{
				bucketOrders: {1: v1Order},
				bucketAuthzs: {7: v1Authz},
			})
			for i := range 2 { // the second Open finds the current format
				s, err := Open(path, Options{})
				if err != nil {
					t.Fatal(err)
				}
				checkUpgraded(t, s, format, i == 0)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkUpgraded checks the indexes and format of a file upgraded from
// format from. The unfinished indexes of a format 2 file are as the file
// had them: writeFile wrote none. first says whether this is the Open that
// upgraded the file.
func checkUpgraded(t *testing.T, s *Store, from byte, first bool) {
	t.Helper()
	if from == 1 {
		orders, authzs, err := s.Unfinished(t.Context())
		if err != nil || len(orders) != 1 || orders[0].ID != 1 || orders[0].CSR != nil ||
			len(authzs) != 1 || authzs[0].ID != 7 {
			t.Errorf("Unfinished after the upgrade: %+v, %+v, %v; want order 1 and authz 7", orders, authzs, err)
		}
	}
	if orders, err := s.AccountOrders(t.Context(), 3); from < 3 && (err != nil || len(orders) != 1 || orders[0].ID != 1) {
		t.Errorf("AccountOrders(3) after the upgrade: %+v, %v; want order 1", orders, err)
	}
	checkRateLimitState(t, s, first)
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := bucket(tx, bucketMeta).Get([]byte(keyFormat)); len(v) != 1 || v[0] != formatVersion {
			t.Errorf("format after the upgrade: %x, want %d", v, formatVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesUnknownFormat(t *testing.T) {
	for _, format := range []byte{0, formatVersion + 1} {
		path := writeFile(t, format, nil)
		if s, err := Open(path, Options{}); !errors.Is(err, errCorrupt) {
			if err == nil {
				_ = s.Close()
			}
			t.Errorf("Open of format %d: %v, want errCorrupt", format, err)
		}
	}
}

// checkRateLimitState checks that an upgraded file has the rate limiter's
// state, empty at first and writable: it spends a bucket on the first Open
// and finds it spent on the next, and has an unpause key.
func checkRateLimitState(t *testing.T, s *Store, first bool) {
	t.Helper()
	ctx := t.Context()
	var tat [1]int64
	if !first {
		if err := s.Buckets().Get(ctx, []string{"3:1"}, tat[:]); err != nil || tat[0] != 42 {
			t.Errorf("bucket 3:1 after reopening: %d, %v; want 42", tat[0], err)
		}
		return
	}
	if got, err := s.Buckets().List(ctx, 0); err != nil || len(got) != 0 {
		t.Errorf("rate-limit buckets after the upgrade: %v, %v; want none", got, err)
	}
	if got, err := s.Pauses().List(ctx); err != nil || len(got) != 0 {
		t.Errorf("pauses after the upgrade: %v, %v; want none", got, err)
	}
	if err := s.Buckets().Get(ctx, []string{"3:1"}, tat[:]); err != nil || tat[0] != 0 {
		t.Errorf("bucket 3:1 after the upgrade: %d, %v; want 0", tat[0], err)
	}
	if ok, err := s.Buckets().CompareAndSwap(ctx, []string{"3:1"}, tat[:], []int64{42}); !ok || err != nil {
		t.Errorf("spending bucket 3:1 after the upgrade: %v, %v", ok, err)
	}
	if key, err := s.UnpauseKey(ctx); err != nil || len(key) != unpauseKeyLen {
		t.Errorf("unpause key after the upgrade: %d bytes, %v", len(key), err)
	}
}
