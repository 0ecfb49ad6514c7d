package ratelimittest

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fakeca/fakeca/ratelimit"
)

func hasSource(b Backend) bool { return b.Source != nil }

// keys returns the bucket keys the source tests use.
func keys() []string { return []string{"3:1", "5:example.com", "7:abc"} }

func sourceTests() []subtest {
	tests := []subtest{
		{"list returns the buckets after the time", hasSource, sourceList},
		{"slices are not retained", hasSource, sourceNoRetain},
		{"concurrent compare-and-swaps lose nothing", hasSource, sourceConcurrent},
	}
	for _, c := range casCases() {
		tests = append(tests, subtest{c.name, hasSource, func(t *testing.T, b Backend) { c.check(t, b.Source) }})
	}
	return tests
}

// getTATs reads the TATs of ks.
func getTATs(t *testing.T, s ratelimit.Source, ks ...string) []int64 {
	t.Helper()
	tats := make([]int64, len(ks))
	noErr(t, "Get", s.Get(t.Context(), ks, tats))
	return tats
}

// cas calls CompareAndSwap and fails the test on an error.
func cas(t *testing.T, s ratelimit.Source, ks []string, olds, news []int64) bool {
	t.Helper()
	ok, err := s.CompareAndSwap(t.Context(), ks, olds, news)
	noErr(t, "CompareAndSwap", err)
	return ok
}

// casCase runs do on a fresh source and checks its result and the TATs of
// keys afterwards.
type casCase struct {
	name   string
	do     func(t *testing.T, s ratelimit.Source) bool
	wantOK bool
	want   []int64
}

func (c casCase) check(t *testing.T, s ratelimit.Source) {
	if ok := c.do(t, s); ok != c.wantOK {
		t.Errorf("CompareAndSwap reported %v, want %v", ok, c.wantOK)
	}
	if got := getTATs(t, s, keys()...); !slices.Equal(got, c.want) {
		t.Errorf("TATs %v, want %v", got, c.want)
	}
}

func casCases() []casCase {
	return []casCase{
		{"missing keys read as 0", func(*testing.T, ratelimit.Source) bool { return true }, true, []int64{0, 0, 0}},
		{"compare-and-swap from 0 creates", func(t *testing.T, s ratelimit.Source) bool {
			return cas(t, s, keys()[:2], []int64{0, 0}, []int64{10, 20})
		}, true, []int64{10, 20, 0}},
		{"matching old values write every key", func(t *testing.T, s ratelimit.Source) bool {
			cas(t, s, keys()[:1], []int64{0}, []int64{10})
			return cas(t, s, keys(), []int64{10, 0, 0}, []int64{11, 21, 31})
		}, true, []int64{11, 21, 31}},
		{"one mismatch fails the whole batch", func(t *testing.T, s ratelimit.Source) bool {
			cas(t, s, keys()[:1], []int64{0}, []int64{10})
			return cas(t, s, keys(), []int64{10, 0, 5}, []int64{11, 21, 31})
		}, false, []int64{10, 0, 0}},
		{"a present key does not match 0", func(t *testing.T, s ratelimit.Source) bool {
			cas(t, s, keys()[1:2], []int64{0}, []int64{20})
			return cas(t, s, keys()[:2], []int64{0, 0}, []int64{11, 21})
		}, false, []int64{0, 20, 0}},
		{"0 deletes", func(t *testing.T, s ratelimit.Source) bool {
			cas(t, s, keys()[:2], []int64{0, 0}, []int64{10, 20})
			return cas(t, s, keys()[:1], []int64{10}, []int64{0})
		}, true, []int64{0, 20, 0}},
		{"large TATs read back", func(t *testing.T, s ratelimit.Source) bool {
			return cas(t, s, keys()[:1], []int64{0}, []int64{1<<62 + 12345})
		}, true, []int64{1<<62 + 12345, 0, 0}},
		{"delete ignores missing keys", func(t *testing.T, s ratelimit.Source) bool {
			cas(t, s, keys(), []int64{0, 0, 0}, []int64{1, 2, 3})
			noErr(t, "Delete", s.Delete(t.Context(), []string{keys()[1], "nope"}))
			return true
		}, true, []int64{1, 0, 3}},
	}
}

func sourceList(t *testing.T, b Backend) {
	s := b.Source
	if got, err := s.List(t.Context(), 0); err != nil || len(got) != 0 {
		t.Errorf("List of an empty source: %v, %v", got, err)
	}
	cas(t, s, keys(), []int64{0, 0, 0}, []int64{100, 200, 300})
	got, err := s.List(t.Context(), 150)
	noErr(t, "List", err)
	slices.SortFunc(got, func(a, b ratelimit.Bucket) int { return strings.Compare(a.Key, b.Key) })
	if want := []ratelimit.Bucket{{Key: keys()[1], TAT: 200}, {Key: keys()[2], TAT: 300}}; !slices.Equal(got, want) {
		t.Errorf("List(150) = %v, want %v", got, want)
	}
	// The bucket at 100 is full at 150: it may have been dropped.
	if tat := getTATs(t, s, keys()[0])[0]; tat != 100 && tat != 0 {
		t.Errorf("the full bucket reads %d after List, want 100 or 0", tat)
	}
	if got := getTATs(t, s, keys()[1:]...); !slices.Equal(got, []int64{200, 300}) {
		t.Errorf("the listed buckets read %v after List, want [200 300]", got)
	}
}

func sourceNoRetain(t *testing.T, b Backend) {
	s := b.Source
	ks, olds, news := []string{keys()[0], keys()[1]}, []int64{0, 0}, []int64{10, 20}
	cas(t, s, ks, olds, news)
	ks[0], olds[0], news[0] = keys()[2], 10, 99
	tats := make([]int64, 2)
	noErr(t, "Get", s.Get(t.Context(), []string{keys()[0], keys()[1]}, tats))
	tats[0] = 77
	if got := getTATs(t, s, keys()...); !slices.Equal(got, []int64{10, 20, 0}) {
		t.Errorf("TATs %v after the caller reused its slices, want [10 20 0]", got)
	}
}

// sourceConcurrent has workers increment two buckets with read and
// compare-and-swap, retrying on conflict, as the Limiter does.
func sourceConcurrent(t *testing.T, b Backend) {
	const workers, rounds = 8, 50
	s := b.Source
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				for {
					var cur [2]int64
					if err := s.Get(t.Context(), keys()[:2], cur[:]); err != nil {
						t.Error(err)
						return
					}
					ok, err := s.CompareAndSwap(t.Context(), keys()[:2], cur[:], []int64{cur[0] + 1, cur[1] + 2})
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	if got := getTATs(t, s, keys()[:2]...); got[0] != workers*rounds || got[1] != 2*workers*rounds {
		t.Errorf("got %v, want [%d %d]", got, workers*rounds, 2*workers*rounds)
	}
}
