package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/ratelimit/ratelimittest"
	"github.com/fakeca/fakeca/store/bolt"
)

// rateLimitBackend is the rate-limit state of a new database.
func rateLimitBackend(t *testing.T, opts bolt.Options) ratelimittest.Backend {
	s := open(t, tempPath(t), opts)
	return ratelimittest.Backend{Source: s.Buckets(), History: s.History(), Pauses: s.Pauses()}
}

func TestRateLimitConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Backend {
		return rateLimitBackend(t, bolt.Options{NoSync: true})
	})
}

// TestRateLimitConformanceSync runs the suite with fsync on, as fakeca
// runs.
func TestRateLimitConformanceSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fsyncs every write")
	}
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Backend { return rateLimitBackend(t, bolt.Options{}) })
}

// TestRateLimitStateSurvivesReopen: buckets, issuance history, pauses and
// the unpause key read back the same from a reopened file.
func TestRateLimitStateSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.UnpauseKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, casErr := s.Buckets().CompareAndSwap(ctx, []string{"3:7", "7:ab"}, []int64{0, 0}, []int64{11, 22})
	_, pauseErr := s.Pauses().Pause(ctx, 7, dns("p.example"), t0())
	if err := errors.Join(casErr, pauseErr, s.History().RecordIssued(ctx, "ab", t0()), s.Close()); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, bolt.Options{})
	again, err := s.UnpauseKey(ctx)
	if err != nil || !bytes.Equal(again, key) || len(key) != 32 {
		t.Errorf("unpause key after reopening: %x, %v; want the first one, %x", again, err, key)
	}
	tats := make([]int64, 2)
	if err := s.Buckets().Get(ctx, []string{"3:7", "7:ab"}, tats); err != nil || tats[0] != 11 || tats[1] != 22 {
		t.Errorf("buckets after reopening: %v, %v; want [11 22]", tats, err)
	}
	if got, err := s.Pauses().Paused(ctx, 7, []acme.Identifier{dns("p.example")}, 15); err != nil || len(got) != 1 {
		t.Errorf("paused after reopening: %v, %v; want p.example", got, err)
	}
	if last, err := s.History().LastIssued(ctx, "ab"); err != nil || !last.Equal(t0()) {
		t.Errorf("last issuance after reopening: %s, %v; want %s", last, err, t0())
	}
}

// TestRateLimitCanceledContext: every method honours a canceled context
// and writes nothing.
func TestRateLimitCanceledContext(t *testing.T) {
	s := open(t, tempPath(t), bolt.Options{NoSync: true})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	keys := []string{"3:1"}
	calls := map[string]func() error{
		"Get":            func() error { return s.Buckets().Get(ctx, keys, make([]int64, 1)) },
		"CompareAndSwap": func() error { _, err := s.Buckets().CompareAndSwap(ctx, keys, []int64{0}, []int64{1}); return err },
		"Delete":         func() error { return s.Buckets().Delete(ctx, keys) },
		"List":           func() error { _, err := s.Buckets().List(ctx, 0); return err },
		"LastIssued":     func() error { _, err := s.History().LastIssued(ctx, "ab"); return err },
		"RecordIssued":   func() error { return s.History().RecordIssued(ctx, "ab", t0()) },
		"Pause":          func() error { _, err := s.Pauses().Pause(ctx, 1, dns("a.example"), t0()); return err },
		"Paused":         func() error { _, err := s.Pauses().Paused(ctx, 1, []acme.Identifier{dns("a.example")}, 15); return err },
		"Unpause":        func() error { _, err := s.Pauses().Unpause(ctx, 1, t0(), 15); return err },
		"PausesList":     func() error { _, err := s.Pauses().List(ctx); return err },
		"UnpauseKey":     func() error { _, err := s.UnpauseKey(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
			}
		})
	}
	if got, err := s.Pauses().List(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("pauses after canceled calls: %v, %v; want none", got, err)
	}
	if last, err := s.History().LastIssued(t.Context(), "ab"); err != nil || !last.IsZero() {
		t.Errorf("history after canceled calls: %s, %v; want nothing", last, err)
	}
}

// TestRateLimitPauseTimes: pause records keep Boulder's second-truncated
// pause time and the exact unpause time, in UTC.
func TestRateLimitPauseTimes(t *testing.T) {
	ctx := t.Context()
	p := open(t, tempPath(t), bolt.Options{NoSync: true}).Pauses()
	now := t0().Add(1500 * time.Millisecond)
	if _, err := p.Pause(ctx, 1, dns("a.example"), now); err != nil {
		t.Fatal(err)
	}
	got, err := p.List(ctx)
	want := ratelimit.PausedIdentifier{Account: 1, Identifier: dns("a.example"), PausedAt: t0().Add(time.Second)}
	if err != nil || len(got) != 1 || got[0].Identifier != want.Identifier || !got[0].PausedAt.Equal(want.PausedAt) ||
		got[0].PausedAt.Location() != time.UTC || !got[0].UnpausedAt.IsZero() {
		t.Errorf("List = %+v, %v; want [%+v]", got, err, want)
	}
}
