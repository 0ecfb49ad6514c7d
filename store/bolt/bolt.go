package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/store"
)

// Bucket names. The object buckets' sequences hand out IDs.
const (
	bucketMeta        = "meta"
	bucketAccounts    = "accounts"     // idKey(id) → account
	bucketAccountKeys = "account-keys" // strKey(KeyID) → idKey(account)
	bucketOrders      = "orders"       // idKey(id) → order
	bucketOrderIndex  = "order-index"  // orderEntry
	bucketAuthzs      = "authzs"       // idKey(id) → authorization
	bucketAuthzIndex  = "authz-index"  // authzEntry
	bucketCerts       = "certs"        // strKey(serial) → certificate
	bucketRevoked     = "revoked"      // revokedEntry
	bucketBlocked     = "blocked-keys" // strKey(hash) → nothing
	// idKey(id) → nothing, for each unfinished order / authorization
	bucketUnfinishedOrders = "unfinished-orders"
	bucketUnfinishedAuthzs = "unfinished-authzs"
	// accountOrderEntry, for every order (since format 3)
	bucketAccountOrders = "account-orders"
	// the rate limiter's state (since format 4; see ratelimits.go)
	bucketRateBuckets = "rl-buckets"
	bucketRateHistory = "rl-history"
	bucketRatePauses  = "rl-pauses"
)

// keyFormat is the meta key holding formatVersion.
const keyFormat = "format"

// bucket returns the named bucket, which Open created.
func bucket(tx *bbolt.Tx, name string) *bbolt.Bucket { return tx.Bucket([]byte(name)) }

// initialMmapSize is the address space mapped at open. bbolt must remap the
// file when it outgrows the map, and a remap waits for every open read
// transaction and blocks new ones; mapping 1 GiB up front (address space,
// not memory) means that never happens to a fakeca-sized database.
const initialMmapSize = 1 << 30

// Options configures Open. The zero value is valid: wait for the file lock
// forever, and fsync every commit.
type Options struct {
	// Timeout is how long Open waits for the file lock when another process
	// has the database open. Zero waits forever (bbolt's behaviour); set a
	// few seconds to fail fast when two fakeca instances share a path.
	Timeout time.Duration
	// NoSync skips fsync on commit: a write that returned nil survives the
	// process being killed, but a machine crash can lose it or corrupt the
	// file. For tests only, where it makes a lone write an order of
	// magnitude faster. Default false.
	NoSync bool
}

// Validate reports a bad option, naming it.
func (o Options) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("timeout: must be >= 0, got %v", o.Timeout)
	}
	return nil
}

// Store is the embedded on-disk Store, a single bbolt file. It keeps one
// bucket per kind of object, keyed by ID (serial, hash), and index buckets
// for every look-up the CA makes: account key → account, order key → order
// IDs, account → order IDs, authz key → valid authorizations, CRL shard →
// revoked serials, unfinished orders and authorizations; and the rate
// limiter's buckets, issuance history and pauses (see Buckets, History,
// Pauses). The indexes are exact: every write updates objects and indexes
// in one transaction. IDs come from the object buckets' sequences, so they survive
// restarts and are never handed out twice.
//
// Writes: bbolt admits one read-write transaction at a time, so writes are
// serialised store-wide. A write is durable (fsynced) when it returns nil.
// Writes from concurrent goroutines are group-committed: those that arrive
// while a transaction commits share the next transaction and its fsync
// (see committer; bbolt's DB.Batch does the same but makes every write
// wait out a fixed delay first). A write's function may run more than once
// (when another write in its batch fails, the batch is retried without
// it), which is why Update* mutators must be pure.
//
// Reads run in bbolt read-only transactions, concurrently with each other
// and with the writer; they never wait for a write.
//
// Values are copied in and out: nothing returned aliases the memory map.
//
// Times read back in UTC and without a monotonic reading; ctx is checked
// before each operation, and a queued write whose ctx is canceled before
// its batch runs writes nothing, but a write whose commit has begun is
// waited for.
//
// A Store is returned by Open and must be closed with Close; the zero value
// is not usable. All methods are safe for concurrent use.
type Store struct {
	db     *bbolt.DB
	commit *committer
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path (mode 0600) and its buckets.
// While it is open no other process can open it: Open waits for the file
// lock up to opts.Timeout. Open starts no goroutines of its own.
func Open(path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.Timeout,
		NoSync:          opts.NoSync,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		return nil, errors.Join(fmt.Errorf("bolt: open %s: %w", path, err), db.Close())
	}
	return &Store{db: db, commit: newCommitter(db)}, nil
}

// initBuckets creates missing buckets and checks the format version,
// upgrading a file of an older version (see upgrade).
func initBuckets(tx *bbolt.Tx) error {
	for _, name := range []string{bucketMeta, bucketAccounts, bucketAccountKeys, bucketOrders,
		bucketOrderIndex, bucketAccountOrders, bucketAuthzs, bucketAuthzIndex, bucketCerts, bucketRevoked,
		bucketBlocked, bucketUnfinishedOrders, bucketUnfinishedAuthzs,
		bucketRateBuckets, bucketRateHistory, bucketRatePauses} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	meta := bucket(tx, bucketMeta)
	switch v := meta.Get([]byte(keyFormat)); {
	case v == nil:
	case len(v) == 1 && v[0] == formatVersion:
		return nil
	case len(v) == 1 && v[0] >= 1 && v[0] < formatVersion:
		if err := upgrade(tx, v[0]); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: file format %x, want %d", errCorrupt, v, formatVersion)
	}
	return meta.Put([]byte(keyFormat), []byte{formatVersion})
}

// upgrade brings a file of format from up to formatVersion, one version at
// a time, in Open's transaction: a failed upgrade writes nothing. Values
// stay as they are (the reader accepts every older version); each step
// fills the indexes the next version added.
func upgrade(tx *bbolt.Tx, from byte) error {
	steps := map[byte]func(*bbolt.Tx) error{1: upgradeV1, 2: upgradeV2, 3: upgradeV3}
	for v := from; v < formatVersion; v++ {
		if err := steps[v](tx); err != nil {
			return fmt.Errorf("upgrading format %d: %w", v, err)
		}
	}
	return nil
}

// upgradeV1 upgrades a format 1 file to format 2: it fills the unfinished
// indexes, which format 1 did not have, by reading every order and
// authorization once. An order unfinished in format 1 has no CSR, so
// resuming it fails it.
func upgradeV1(tx *bbolt.Tx) error {
	if err := bucket(tx, bucketOrders).ForEach(func(k, v []byte) error {
		o, err := decodeOrder(idAt(k), v)
		if err != nil {
			return corrupt("order", idAt(k), err)
		}
		_, err = reindex(bucket(tx, bucketUnfinishedOrders), entry{}, unfinishedOrderEntry(&o))
		return err
	}); err != nil {
		return err
	}
	return bucket(tx, bucketAuthzs).ForEach(func(k, v []byte) error {
		a, err := decodeAuthz(idAt(k), v)
		if err != nil {
			return corrupt("authz", idAt(k), err)
		}
		_, err = reindex(bucket(tx, bucketUnfinishedAuthzs), entry{}, unfinishedAuthzEntry(&a))
		return err
	})
}

// upgradeV2 upgrades a format 2 file to format 3: it fills the
// account-orders index, which format 2 did not have, by reading every
// order once.
func upgradeV2(tx *bbolt.Tx) error {
	return bucket(tx, bucketOrders).ForEach(func(k, v []byte) error {
		o, err := decodeOrder(idAt(k), v)
		if err != nil {
			return corrupt("order", idAt(k), err)
		}
		_, err = reindex(bucket(tx, bucketAccountOrders), entry{}, accountOrderEntry(&o))
		return err
	})
}

// upgradeV3 upgrades a format 3 file to format 4, which adds the rate
// limiter's buckets (rl-buckets, rl-history, rl-pauses) and the unpause key.
// They start empty, as a format 3 fakeca kept that state in memory:
// initBuckets has created the buckets, and Store.UnpauseKey makes the key
// when it is first asked for it. Nothing else changes.
func upgradeV3(*bbolt.Tx) error { return nil }

// Close closes the database, waiting for running transactions. Operations
// after Close fail. Closing twice is not an error.
func (s *Store) Close() error { return s.db.Close() }

// write runs fn in a read-write transaction group-committed with
// concurrent writes (see committer). fn may run more than once; only its last run is committed,
// so it must set its results afresh on every run. If fn fails, nothing it
// did is written and its error is returned.
func (s *Store) write(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.commit.do(func(tx *bbolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(tx)
	})
}

// read runs fn in a read-only transaction.
func (s *Store) read(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// notFound is the error for a missing object of a kind ("order") and ID;
// the texts match the memory backend's.
func notFound(kind string, id any) error {
	return fmt.Errorf("%s %v: %w", kind, id, store.ErrNotFound)
}

// corrupt wraps a decoding error with the object it came from.
func corrupt(kind string, id any, err error) error {
	return fmt.Errorf("bolt: %s %v: %w", kind, id, err)
}

// errIDChanged is returned when a mutator changes the ID (or serial) of
// the object it was given; nothing is written.
func errIDChanged(kind string, id, got any) error {
	return fmt.Errorf("%s %v: mutate changed its ID to %v", kind, id, got)
}

// nextID draws the next ID from b's sequence.
func nextID(b *bbolt.Bucket) (int64, error) {
	n, err := b.NextSequence()
	return int64(n), err
}

// BlockKey adds a SubjectPublicKeyInfo hash to the blocked-key list. Adding
// a hash that is already listed is not an error.
func (s *Store) BlockKey(ctx context.Context, keyHash string) error {
	return s.write(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bucketBlocked).Put(strKey(keyHash), []byte{})
	})
}

// KeyBlocked reports whether the hash is on the blocked-key list.
func (s *Store) KeyBlocked(ctx context.Context, keyHash string) (bool, error) {
	var blocked bool
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		blocked = bucket(tx, bucketBlocked).Get(strKey(keyHash)) != nil
		return nil
	})
	return blocked, err
}
