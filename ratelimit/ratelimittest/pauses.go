package ratelimittest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ratelimit"
)

func hasPauses(b Backend) bool { return b.Pauses != nil }

func pausesTests() []subtest {
	return []subtest{
		{"pause, unpause, 14 days of grace, repause", hasPauses, pausesLifecycle},
		{"paused lists the given identifiers that are paused, in order, at most max", hasPauses, pausesPaused},
		{"accounts and identifier types are apart", hasPauses, pausesApart},
		{"unpause lifts at most max pauses", hasPauses, pausesUnpauseLimit},
		{"list orders current pauses by account, then identifier", hasPauses, pausesList},
		{"concurrent pauses of one account are all kept", hasPauses, pausesConcurrent},
	}
}

// pause pauses id for account at now and fails the test on an error.
func pause(t *testing.T, p ratelimit.Pauses, account int64, id acme.Identifier, now time.Time) ratelimit.PauseResult {
	t.Helper()
	res, err := p.Pause(t.Context(), account, id, now)
	noErr(t, "Pause", err)
	return res
}

// wantPaused checks Paused(account, ids, max).
func wantPaused(t *testing.T, p ratelimit.Pauses, account int64, ids []acme.Identifier, max int, want []acme.Identifier) {
	t.Helper()
	got, err := p.Paused(t.Context(), account, ids, max)
	noErr(t, "Paused", err)
	if len(got) != 0 || len(want) != 0 {
		if !slices.Equal(got, want) {
			t.Errorf("Paused(%d, %v, %d) = %v, want %v", account, ids, max, got, want)
		}
	}
}

// unpause unpauses account's identifiers and checks how many it lifted.
func unpause(t *testing.T, p ratelimit.Pauses, account int64, now time.Time, max int, want int64) {
	t.Helper()
	n, err := p.Unpause(t.Context(), account, now, max)
	noErr(t, "Unpause", err)
	if n != want {
		t.Errorf("Unpause(%d, max %d) lifted %d, want %d", account, max, n, want)
	}
}

// pausesLifecycle walks one identifier through Boulder's rules.
func pausesLifecycle(t *testing.T, b Backend) {
	p, id := b.Pauses, dns("a.example.com")[0]
	steps := []struct {
		at      time.Duration
		unpause bool
		want    ratelimit.PauseResult
		paused  bool
	}{
		{0, false, ratelimit.Paused, true},
		{time.Hour, false, ratelimit.AlreadyPaused, true},
		{2 * time.Hour, true, 0, false},
		{3 * time.Hour, false, ratelimit.InGrace, false},
		{14*day + 2*time.Hour - time.Second, false, ratelimit.InGrace, false},
		{14*day + 2*time.Hour, false, ratelimit.Repaused, true},
		{15 * day, false, ratelimit.AlreadyPaused, true},
	}
	for _, s := range steps {
		now := base().Add(s.at)
		if s.unpause {
			unpause(t, p, 1, now, 50000, 1)
		} else if got := pause(t, p, 1, id, now); got != s.want {
			t.Errorf("Pause at +%s: %s, want %s", s.at, got, s.want)
		}
		var want []acme.Identifier
		if s.paused {
			want = []acme.Identifier{id}
		}
		wantPaused(t, p, 1, []acme.Identifier{id}, 15, want)
	}
}

func pausesPaused(t *testing.T, b Backend) {
	p := b.Pauses
	for _, id := range dns("c.example", "a.example", "d.example") {
		pause(t, p, 7, id, base())
	}
	ids := dns("a.example", "b.example", "c.example", "d.example")
	wantPaused(t, p, 7, ids, 15, dns("a.example", "c.example", "d.example"))
	wantPaused(t, p, 7, ids, 2, dns("a.example", "c.example"))
	wantPaused(t, p, 7, dns("b.example"), 15, nil)
	wantPaused(t, p, 7, nil, 15, nil)
}

func pausesApart(t *testing.T, b Backend) {
	p := b.Pauses
	ip := acme.Identifier{Type: acme.TypeIP, Value: "a.example"} // same value, other type
	pause(t, p, 1, dns("a.example")[0], base())
	wantPaused(t, p, 2, dns("a.example"), 15, nil)
	wantPaused(t, p, 1, []acme.Identifier{ip}, 15, nil)
	unpause(t, p, 2, base(), 100, 0)
	wantPaused(t, p, 1, dns("a.example"), 15, dns("a.example"))
	if got := pause(t, p, 2, dns("a.example")[0], base()); got != ratelimit.Paused {
		t.Errorf("pausing the same identifier for account 2: %s, want %s", got, ratelimit.Paused)
	}
}

func pausesUnpauseLimit(t *testing.T, b Backend) {
	p := b.Pauses
	var all []acme.Identifier
	for _, c := range "abcdefgh" {
		id := dns(string(c) + ".example")[0]
		all = append(all, id)
		pause(t, p, 3, id, base())
	}
	unpause(t, p, 3, base().Add(time.Hour), 5, 5)
	got, err := p.Paused(t.Context(), 3, all, 15)
	noErr(t, "Paused", err)
	if len(got) != 3 {
		t.Errorf("after lifting 5 of 8 pauses, %d are paused (%v), want 3", len(got), got)
	}
	unpause(t, p, 3, base().Add(time.Hour), 5, 3)
	unpause(t, p, 3, base().Add(time.Hour), 5, 0)
	wantPaused(t, p, 3, all, 15, nil)
}

func pausesList(t *testing.T, b Backend) {
	p := b.Pauses
	if got, err := p.List(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("List of no pauses: %v, %v", got, err)
	}
	ip := acme.Identifier{Type: acme.TypeIP, Value: "192.0.2.1"}
	pause(t, p, 20, dns("b.example")[0], base())
	pause(t, p, 3, dns("z.example")[0], base().Add(time.Hour))
	pause(t, p, 20, ip, base())
	pause(t, p, 20, dns("a.example")[0], base())
	pause(t, p, 9, dns("gone.example")[0], base())
	unpause(t, p, 9, base().Add(time.Hour), 10, 1)
	got, err := p.List(t.Context())
	noErr(t, "List", err)
	at := base().Truncate(time.Second)
	want := []ratelimit.PausedIdentifier{
		{Account: 3, Identifier: dns("z.example")[0], PausedAt: at.Add(time.Hour)},
		{Account: 20, Identifier: dns("a.example")[0], PausedAt: at},
		{Account: 20, Identifier: dns("b.example")[0], PausedAt: at},
		{Account: 20, Identifier: ip, PausedAt: at},
	}
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.Account == w.Account && g.Identifier == w.Identifier && g.PausedAt.Equal(w.PausedAt) &&
			g.UnpausedAt.IsZero()
	}
	if !same {
		t.Errorf("List =\n%v\nwant\n%v", got, want)
	}
}

func pausesConcurrent(t *testing.T, b Backend) {
	const workers = 8
	p := b.Pauses
	ids := make([]acme.Identifier, workers)
	for i := range ids {
		ids[i] = dns(string(rune('a'+i)) + ".example")[0]
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			if _, err := p.Pause(t.Context(), 5, ids[i], base()); err != nil {
				t.Error(err)
			}
			if _, err := p.Paused(t.Context(), 5, ids, 15); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	wantPaused(t, p, 5, ids, 15, ids)
}
