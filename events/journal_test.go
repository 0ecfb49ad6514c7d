package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

func TestNew(t *testing.T) {
	clk := func() Deps { return Deps{Clock: testclock.NewFakeClock(epoch())} }
	tests := []struct {
		name    string
		cfg     Config
		deps    Deps
		wantErr string
		wantCap uint64
	}{
		{"zero config means the default capacity", Config{}, clk(), "", DefaultCapacity},
		{"capacity is kept", Config{Capacity: 7}, clk(), "", 7},
		{"maximum capacity is accepted", Config{Capacity: MaxCapacity}, clk(), "", MaxCapacity},
		{"negative capacity", Config{Capacity: -1}, clk(), "events.capacity: must be from 0 (default 10000) to 1000000, got -1", 0},
		{"capacity too large", Config{Capacity: MaxCapacity + 1}, clk(), "events.capacity: must be from 0", 0},
		{"clock is required", Config{}, Deps{}, "events: Deps.Clock is required", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := New(tt.cfg, tt.deps)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if j.capacity != tt.wantCap {
				t.Errorf("capacity %d, want %d", j.capacity, tt.wantCap)
			}
		})
	}
}

func TestAppendAssignsSeqAndTime(t *testing.T) {
	j, clk, _ := newJournal(t, 0, nil)
	in := Event{Seq: 99, Time: epoch().Add(-time.Hour), Kind: OrderCreated, Account: 1, Order: 2,
		Identifiers: dns("a.example"), Problem: &Problem{Type: "x", Subproblems: []Problem{{Detail: "d"}}}}
	if got := j.Append(in); got != 1 {
		t.Fatalf("first Seq %d, want 1", got)
	}
	clk.Step(time.Minute)
	if got := j.Append(Event{Kind: CertificateIssued}); got != 2 {
		t.Fatalf("second Seq %d, want 2", got)
	}
	// The caller's slices are copied: changing them changes nothing stored.
	in.Identifiers[0].Value = "changed.example"
	in.Problem.Subproblems[0].Detail = "changed"

	evs := j.Query(Filter{})
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if !evs[0].Time.Equal(epoch()) || !evs[1].Time.Equal(epoch().Add(time.Minute)) {
		t.Errorf("times %v, %v; want the clock's", evs[0].Time, evs[1].Time)
	}
	if evs[0].Time.Location() != time.UTC {
		t.Errorf("time not in UTC: %v", evs[0].Time)
	}
	if v := evs[0].Identifiers[0].Value; v != "a.example" {
		t.Errorf("stored identifier changed through the caller's slice: %q", v)
	}
	if d := evs[0].Problem.Subproblems[0].Detail; d != "d" {
		t.Errorf("stored subproblem changed through the caller's pointer: %q", d)
	}
	// Returned events are copies too.
	evs[0].Identifiers[0].Value = "mutated.example"
	if v := j.Query(Filter{})[0].Identifiers[0].Value; v != "a.example" {
		t.Errorf("stored identifier changed through a query result: %q", v)
	}
}

func TestRingKeepsNewest(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		appended int
	}{
		{"not full", 5, 3},
		{"exactly full", 5, 5},
		{"one evicted", 5, 6},
		{"wrapped several times", 5, 23},
		{"capacity one", 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _, _ := newJournal(t, tt.capacity, nil)
			for i := 1; i <= tt.appended; i++ {
				j.Append(Event{Kind: OrderCreated, Account: int64(i % 2), Order: int64(i),
					Identifiers: dns(fmt.Sprintf("n%d.example", i%3))})
			}
			first := max(1, tt.appended-tt.capacity+1)
			var want []uint64
			for s := first; s <= tt.appended; s++ {
				want = append(want, uint64(s))
			}
			if got := seqs(j.Query(Filter{})); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("kept %v, want %v", got, want)
			}
			// Evicted events are gone from every index too.
			if got := j.Query(Filter{Order: int64(first - 1)}); first > 1 && len(got) != 0 {
				t.Errorf("evicted order still indexed: %v", seqs(got))
			}
			if got := len(j.buf); got > tt.capacity {
				t.Errorf("ring holds %d slots, capacity %d", got, tt.capacity)
			}
			assertIndexesBounded(t, j)
		})
	}
}

// assertIndexesBounded checks that the indexes hold exactly the events of
// the ring.
func assertIndexesBounded(t *testing.T, j *Journal) {
	t.Helper()
	n := 0
	for _, l := range j.byOrder {
		n += len(l)
	}
	orders := 0
	for _, e := range j.buf {
		if e.Order != 0 {
			orders++
		}
	}
	if n != orders {
		t.Errorf("order index holds %d positions, ring has %d events with an order", n, orders)
	}
}

func TestConcurrentAppendSeqMonotonic(t *testing.T) {
	const writers, each = 8, 500
	j, _, _ := newJournal(t, writers*each, nil)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			last := uint64(0)
			for i := range each {
				s := j.Append(Event{Kind: ChallengeStarted, Account: int64(w + 1), Order: int64(i + 1)})
				if s <= last {
					t.Errorf("writer %d: seq %d after %d", w, s, last)
				}
				last = s
			}
		})
	}
	wg.Add(1)
	go func() { // queries run alongside
		defer wg.Done()
		for range 50 {
			evs := j.Query(Filter{Account: 3})
			for i := 1; i < len(evs); i++ {
				if evs[i].Seq <= evs[i-1].Seq {
					t.Errorf("query out of order: %d after %d", evs[i].Seq, evs[i-1].Seq)
				}
			}
		}
	}()
	wg.Wait()
	evs := j.Query(Filter{})
	if len(evs) != writers*each {
		t.Fatalf("got %d events, want %d", len(evs), writers*each)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: seqs must be 1..n without gaps", i, e.Seq)
		}
	}
}

func TestRunPersistsInSeqOrder(t *testing.T) {
	sink := &memSink{}
	j, _, _ := newJournal(t, 100, sink)
	stop := runJournal(t, j)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for range 50 {
				j.Append(Event{Kind: OrderCreated, Account: int64(w + 1)})
			}
		})
	}
	wg.Wait()
	stop() // flushes the queue before returning
	got := sink.stored()
	if len(got) != 200 {
		t.Fatalf("persisted %d events, want 200", len(got))
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("persisted event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
}

func TestRunTwice(t *testing.T) {
	j, _, _ := newJournal(t, 10, nil)
	j.running.Store(true) // as if a Run were in progress
	if err := j.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Run: %v", err)
	}
}

func TestPersistenceFailuresAreLoggedNotReturned(t *testing.T) {
	sink := &memSink{err: errors.New("disk on fire")}
	j, _, logs := newJournal(t, 10, sink)
	stop := runJournal(t, j)
	j.Append(Event{Kind: OrderCreated})
	stop()
	if !strings.Contains(logs.String(), "persisting events failed") || !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("log lacks the sink error:\n%s", logs)
	}
	if n := len(j.Query(Filter{})); n != 1 {
		t.Errorf("in-memory journal has %d events, want 1", n)
	}
}

func TestFullQueueDropsPersistenceNotEvents(t *testing.T) {
	sink := &memSink{}
	j, _, logs := newJournal(t, 2*persistQueue, sink)
	n := persistQueue + 10 // Run is not running: the queue fills
	for range n {
		j.Append(Event{Kind: OrderCreated})
	}
	if got := len(j.Query(Filter{})); got != n {
		t.Fatalf("in memory: %d events, want %d", got, n)
	}
	if c := strings.Count(logs.String(), "persistence queue full"); c != 1 {
		t.Errorf("want one warning when the queue fills, got %d:\n%s", c, logs)
	}
	stop := runJournal(t, j)
	stop()
	if got := len(sink.stored()); got != persistQueue {
		t.Errorf("persisted %d events, want the %d queued", got, persistQueue)
	}
	if !strings.Contains(logs.String(), "events=10") {
		t.Errorf("Run did not report the 10 unpersisted events:\n%s", logs)
	}
}

func TestRestore(t *testing.T) {
	stored := func(seqs ...uint64) []Event {
		evs := make([]Event, len(seqs))
		for i, s := range seqs {
			evs[i] = Event{Seq: s, Time: epoch(), Kind: OrderCreated, Order: int64(i + 1)}
		}
		return evs
	}
	tests := []struct {
		name     string
		capacity int
		stored   []Event
		want     []uint64 // restored seqs
		next     uint64   // seq of the next Append
		warn     string
	}{
		{"empty sink", 10, nil, []uint64{}, 1, ""},
		{"all fit", 10, stored(1, 2, 3), []uint64{1, 2, 3}, 4, ""},
		{"gaps are kept", 10, stored(4, 9, 12), []uint64{4, 9, 12}, 13, ""},
		{"only the newest capacity", 2, stored(1, 2, 3), []uint64{2, 3}, 4, ""},
		{"out of order is renumbered", 10, stored(5, 6, 1, 2), []uint64{1, 2, 3, 4}, 5, "renumbering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{events: tt.stored}
			j, _, logs := newJournal(t, tt.capacity, sink)
			n, err := j.Restore(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.want) {
				t.Errorf("restored %d, want %d", n, len(tt.want))
			}
			if got := seqs(j.Query(Filter{})); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("seqs %v, want %v", got, tt.want)
			}
			if got := j.Append(Event{Kind: OrderCreated}); got != tt.next {
				t.Errorf("next seq %d, want %d", got, tt.next)
			}
			if tt.warn != "" && !strings.Contains(logs.String(), tt.warn) {
				t.Errorf("log lacks %q:\n%s", tt.warn, logs)
			}
			if len(sink.stored()) != len(tt.stored) {
				t.Errorf("Restore wrote to the sink")
			}
		})
	}
}

func TestRestoreAfterAppend(t *testing.T) {
	j, _, _ := newJournal(t, 10, &memSink{})
	j.Append(Event{Kind: OrderCreated})
	if _, err := j.Restore(context.Background()); err == nil || !strings.Contains(err.Error(), "before the first Append") {
		t.Fatalf("got %v", err)
	}
}

func TestProblemFrom(t *testing.T) {
	sub := acme.New(acme.Unauthorized, "no")
	tests := []struct {
		name string
		err  error
		want *Problem
	}{
		{"nil", nil, nil},
		{"acme error", acme.New(acme.Malformed, "bad"),
			&Problem{Type: "urn:ietf:params:acme:error:malformed", Detail: "bad", Status: 400}},
		{"rate limit with Retry-After rounded to seconds", &acme.Error{Type: acme.RateLimited, Detail: "too many", RetryAfter: 90*time.Second + 600*time.Millisecond},
			&Problem{Type: "urn:ietf:params:acme:error:rateLimited", Detail: "too many", Status: 429, RetryAfter: 91}},
		{"wrapped acme error with subproblems", fmt.Errorf("ctx: %w", &acme.Error{Type: acme.RejectedIdentifier, Detail: "d",
			Sub: []acme.SubError{{Identifier: dns("a.example")[0], Err: sub}}}),
			&Problem{Type: "urn:ietf:params:acme:error:rejectedIdentifier", Detail: "d", Status: 400,
				Subproblems: []Problem{{Type: "urn:ietf:params:acme:error:unauthorized", Detail: "no", Status: 403,
					Identifier: &dns("a.example")[0]}}}},
		{"not found renders as malformed 404", acme.New(acme.NotFound, "gone"),
			&Problem{Type: "urn:ietf:params:acme:error:malformed", Detail: "gone", Status: 404}},
		{"other error", errors.New("boom"),
			&Problem{Type: "urn:ietf:params:acme:error:serverInternal", Detail: "boom", Status: 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProblemFrom(tt.err)
			if fmt.Sprintf("%+v", deref(got)) != fmt.Sprintf("%+v", deref(tt.want)) {
				t.Errorf("got %+v, want %+v", deref(got), deref(tt.want))
			}
		})
	}
}

// deref renders a problem with its pointers followed, for comparison.
func deref(p *Problem) string {
	if p == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("{%s %q %d %d", p.Type, p.Detail, p.Status, p.RetryAfter)
	if p.Identifier != nil {
		s += " " + p.Identifier.String()
	}
	for _, sp := range p.Subproblems {
		s += " " + deref(&sp)
	}
	return s + "}"
}

func TestKinds(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if seen[k] {
			t.Errorf("duplicate kind %q", k)
		}
		seen[k] = true
		if got, ok := ParseKind(string(k)); !ok || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, ok)
		}
	}
	if len(seen) != 16 {
		t.Errorf("%d kinds, want 16", len(seen))
	}
	for _, bad := range []string{"", "Order-Created", "order_created", "unknown"} {
		if _, ok := ParseKind(bad); ok {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
	}
}
