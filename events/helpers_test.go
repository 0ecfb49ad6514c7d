package events

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// epoch is the fake clock's start.
func epoch() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

func newJournal(t testing.TB, capacity int, sink Sink) (*Journal, *testclock.FakeClock, *logBuffer) {
	t.Helper()
	clk := testclock.NewFakeClock(epoch())
	log, buf := newLogger()
	j, err := New(Config{Capacity: capacity}, Deps{Clock: clk, Sink: sink, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return j, clk, buf
}

func dns(vals ...string) []acme.Identifier {
	ids := make([]acme.Identifier, len(vals))
	for i, v := range vals {
		ids[i] = acme.Identifier{Type: acme.TypeDNS, Value: v}
	}
	return ids
}

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// memSink is an in-memory Sink whose writes can be made to fail.
type memSink struct {
	mu     sync.Mutex
	events []Event
	err    error // returned by AppendEvents when set
}

var _ Sink = (*memSink)(nil)

func (m *memSink) AppendEvents(_ context.Context, evs []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	for _, e := range evs {
		m.events = append(m.events, e.clone())
	}
	return nil
}

func (m *memSink) LoadEvents(_ context.Context, limit int) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.events
	if limit > 0 && len(evs) > limit {
		evs = evs[len(evs)-limit:]
	}
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = e.clone()
	}
	return out, nil
}

func (m *memSink) stored() []Event {
	evs, _ := m.LoadEvents(context.Background(), 0)
	return evs
}

// runJournal starts j.Run and returns a stop function that cancels it and
// waits for it to return.
func runJournal(t testing.TB, j *Journal) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}
