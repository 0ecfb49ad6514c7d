// Package ratelimittest is the conformance suite for the storage
// interfaces of package ratelimit: Source (GCRA buckets), History (issued
// identifier sets) and Pauses (paused identifiers). Every implementation
// runs Run from its own tests and must pass all of it; ratelimit's
// in-memory implementations and store/bolt's on-disk ones do.
//
// The suite checks the contracts documented on the interfaces: reads of
// missing entries, compare-and-swap over several keys (all or nothing),
// deletes, listings, Boulder's pause and unpause rules with their limits,
// and concurrent use, which is only meaningful under -race. Times are
// compared with time.Time.Equal and must read back in UTC.
//
// In DESIGN.md's graph ratelimittest is a test helper of ratelimit: it
// imports ratelimit and acme, and only _test.go files import it.
package ratelimittest

import (
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ratelimit"
)

// Backend is one set of implementations under test. A field left nil skips
// that interface's part of the suite. Plain data.
type Backend struct {
	Source  ratelimit.Source
	History ratelimit.History
	Pauses  ratelimit.Pauses
}

// Run runs the conformance suite as subtests of t. newBackend must return
// new, empty implementations each time it is called (their state may be
// shared, e.g. one database file); it may register cleanups on the t it is
// given. Run is safe to call from parallel tests if newBackend is.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"source", sourceTests()},
		{"history", historyTests()},
		{"pauses", pausesTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					b := newBackend(t)
					if !st.applies(b) {
						t.Skip("not implemented by this backend")
					}
					st.run(t, b)
				})
			}
		})
	}
}

// subtest is one named check on a fresh backend.
type subtest struct {
	name    string
	applies func(Backend) bool
	run     func(t *testing.T, b Backend)
}

// base is the suite's "now": a fixed UTC time with nanoseconds, so that a
// backend that rounds times is caught.
func base() time.Time { return time.Date(2030, time.March, 4, 5, 6, 7, 123456789, time.UTC) }

const day = 24 * time.Hour

func dns(names ...string) []acme.Identifier {
	out := make([]acme.Identifier, len(names))
	for i, n := range names {
		out[i] = acme.Identifier{Type: acme.TypeDNS, Value: n}
	}
	return out
}

// noErr fails the test now if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
