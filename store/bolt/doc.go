// Package bolt is the embedded on-disk backend of store.Store: one
// go.etcd.io/bbolt file that keeps fakeca's state across restarts.
//
// Open a file with Open, use the *Store as a store.Store, and Close it:
//
//	s, err := bolt.Open("/var/lib/fakeca/state.db", bolt.Options{Timeout: 5 * time.Second})
//
// Every write is one bbolt transaction that updates the object and the
// indexes it is filed in, and returns only once it is on disk. Concurrent
// writes share transactions and fsyncs (group commit), but there is one
// writer at a time, store-wide: that is bbolt's model, and this backend's
// documented exception to store.Store's "no store-wide lock". Reads never
// wait for writes. See Store for the details.
//
// The same file keeps the rate limiter's state (Store.Buckets,
// Store.History, Store.Pauses and Store.UnpauseKey implement
// ratelimit.Source, History, Pauses and Deps.UnpauseKey), so that limits,
// pauses and unpause links survive a restart; see ratelimits.go.
//
// In DESIGN.md's graph bolt is a backend of store, under ca: it imports
// store, ratelimit (for its storage interfaces), acme and go.etcd.io/bbolt,
// and is imported only by cmd/fakeca and ca/instance.
package bolt
