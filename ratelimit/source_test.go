package ratelimit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSourceContract runs the Source contract against the in-memory source;
// a store-backed Source should pass the same table.
func TestSourceContract(t *testing.T) {
	for name, newSource := range map[string]func() Source{"memory": NewMemorySource} {
		t.Run(name, func(t *testing.T) { sourceContract(t, newSource) })
	}
}

func sourceContract(t *testing.T, newSource func() Source) {
	ctx := context.Background()
	keys := []string{"3:1", "5:example.com", "7:abc"}
	get := func(s Source) []int64 {
		tats := make([]int64, len(keys))
		if err := s.Get(ctx, keys, tats); err != nil {
			t.Fatal(err)
		}
		return tats
	}
	tests := []struct {
		name   string
		do     func(s Source) (bool, error)
		wantOK bool
		want   []int64
	}{
		{"missing keys read as 0", func(Source) (bool, error) { return true, nil }, true, []int64{0, 0, 0}},
		{"create", func(s Source) (bool, error) {
			return s.CompareAndSwap(ctx, keys[:2], []int64{0, 0}, []int64{10, 20})
		}, true, []int64{10, 20, 0}},
		{"stale old value writes nothing", func(s Source) (bool, error) {
			_, _ = s.CompareAndSwap(ctx, keys[:1], []int64{0}, []int64{10})
			return s.CompareAndSwap(ctx, keys, []int64{10, 0, 0}, []int64{11, 21, 31})
		}, true, []int64{11, 21, 31}},
		{"one mismatch fails the whole batch", func(s Source) (bool, error) {
			_, _ = s.CompareAndSwap(ctx, keys[:1], []int64{0}, []int64{10})
			return s.CompareAndSwap(ctx, keys, []int64{9, 0, 0}, []int64{11, 21, 31})
		}, false, []int64{10, 0, 0}},
		{"0 deletes", func(s Source) (bool, error) {
			_, _ = s.CompareAndSwap(ctx, keys[:1], []int64{0}, []int64{10})
			return s.CompareAndSwap(ctx, keys[:1], []int64{10}, []int64{0})
		}, true, []int64{0, 0, 0}},
		{"delete ignores missing keys", func(s Source) (bool, error) {
			_, _ = s.CompareAndSwap(ctx, keys, []int64{0, 0, 0}, []int64{1, 2, 3})
			return true, s.Delete(ctx, []string{"5:example.com", "nope"})
		}, true, []int64{1, 0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSource()
			ok, err := tt.do(s)
			if err != nil || ok != tt.wantOK {
				t.Fatalf("got %v, %v; want %v", ok, err, tt.wantOK)
			}
			if got := get(s); !slices.Equal(got, tt.want) {
				t.Errorf("TATs %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("list returns buckets after the time", func(t *testing.T) {
		s := newSource()
		_, _ = s.CompareAndSwap(ctx, keys, []int64{0, 0, 0}, []int64{100, 200, 300})
		got, err := s.List(ctx, 150)
		if err != nil || !slices.Equal(got, []Bucket{{"5:example.com", 200}, {"7:abc", 300}}) {
			t.Errorf("got %v, %v", got, err)
		}
	})
	t.Run("concurrent increments lose nothing", func(t *testing.T) {
		s := newSource()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					for {
						var cur [2]int64
						_ = s.Get(ctx, keys[:2], cur[:])
						if ok, _ := s.CompareAndSwap(ctx, keys[:2], cur[:], []int64{cur[0] + 1, cur[1] + 2}); ok {
							break
						}
					}
				}
			})
		}
		wg.Wait()
		if got := get(s); got[0] != 1600 || got[1] != 3200 {
			t.Errorf("got %v, want [1600 3200 0]", got)
		}
	})
}

func TestMemoryHistoryAndPauses(t *testing.T) {
	ctx := context.Background()
	h := NewMemoryHistory()
	if last, _ := h.LastIssued(ctx, "x"); !last.IsZero() {
		t.Errorf("unknown set: %s", last)
	}
	_ = h.RecordIssued(ctx, "x", t0)
	if last, _ := h.LastIssued(ctx, "x"); !last.Equal(t0) {
		t.Errorf("got %s", last)
	}
	if !isRenewal(t0, t0.Add(renewalWindow-time.Second)) || isRenewal(t0, t0.Add(renewalWindow)) || isRenewal(time.Time{}, t0) {
		t.Error("renewal window is (now-120d, now]")
	}

	p := NewMemoryPauses()
	id := dns("a.example.com")[0]
	steps := []struct {
		at   time.Duration
		do   string // pause or unpause
		want PauseResult
	}{
		{0, "pause", Paused}, {time.Hour, "pause", AlreadyPaused}, {2 * time.Hour, "unpause", 0},
		{3 * time.Hour, "pause", InGrace}, {14*24*time.Hour + 2*time.Hour - time.Second, "pause", InGrace},
		{14*24*time.Hour + 2*time.Hour, "pause", Repaused}, {15 * 24 * time.Hour, "pause", AlreadyPaused},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.do == "unpause" {
			if n, _ := p.Unpause(ctx, 1, now, maxUnpause); n != 1 {
				t.Fatalf("unpaused %d", n)
			}
			continue
		}
		if got, _ := p.Pause(ctx, 1, id, now); got != s.want {
			t.Errorf("at +%s: %s, want %s", s.at, got, s.want)
		}
	}
	if got, _ := p.Paused(ctx, 1, dns("b.example.com", "a.example.com"), 15); !slices.Equal(got, dns("a.example.com")) {
		t.Errorf("Paused = %v", got)
	}
	for i := range 20 {
		_, _ = p.Pause(ctx, 2, dns("h" + itoa(i) + ".example.com")[0], t0)
	}
	var all []string
	for i := range 20 {
		all = append(all, "h"+itoa(i)+".example.com")
	}
	if got, _ := p.Paused(ctx, 2, dns(all...), maxPausedShown); len(got) != 15 {
		t.Errorf("at most 15 shown, got %d", len(got))
	}
	if n, _ := p.Unpause(ctx, 2, t0, 5); n != 5 {
		t.Errorf("unpause limit: %d", n)
	}
}
