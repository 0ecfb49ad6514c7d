package events

import (
	"fmt"
	"testing"
)

// fill appends capacity events spread over 500 accounts, 2000 orders and
// 1000 names, each event with two identifiers.
func fill(b *testing.B, capacity int) *Journal {
	b.Helper()
	j, _, _ := newJournal(b, capacity, nil)
	for i := range capacity {
		j.Append(benchEvent(i))
	}
	return j
}

func benchEvent(i int) Event {
	name := fmt.Sprintf("host%d.example.com", i%1000)
	return Event{Kind: Kinds()[i%len(Kinds())], Account: int64(i%500 + 1), Order: int64(i%2000 + 1),
		Identifiers: dns(name, "*."+name)}
}

// BenchmarkAppend measures Append on a full journal (every Append evicts).
func BenchmarkAppend(b *testing.B) {
	j := fill(b, DefaultCapacity)
	evs := make([]Event, 1024)
	for i := range evs {
		evs[i] = benchEvent(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j.Append(evs[i%len(evs)])
	}
}

// BenchmarkAppendParallel measures Append contention on the journal mutex.
func BenchmarkAppendParallel(b *testing.B) {
	j := fill(b, DefaultCapacity)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			j.Append(benchEvent(i))
			i++
		}
	})
}

// BenchmarkQuery measures queries on a full journal of DefaultCapacity
// events: indexed look-ups and the full scans a kind-only or unfiltered
// query does.
func BenchmarkQuery(b *testing.B) {
	j := fill(b, DefaultCapacity)
	for _, bm := range []struct {
		name string
		f    Filter
	}{
		{"identifier", Filter{Identifier: "host7.example.com"}},
		{"wildcard identifier", Filter{Identifier: "*.host7.example.com"}},
		{"account", Filter{Account: 42}},
		{"order", Filter{Order: 42}},
		{"account and kind", Filter{Account: 42, Kinds: []Kind{ValidationFailed}}},
		{"newest 100", Filter{Limit: 100}},
		{"kind full scan", Filter{Kinds: []Kind{ValidationFailed}, Limit: 100}},
		{"kind full scan, no match", Filter{Kinds: []Kind{"none"}}},
		{"since", Filter{Since: 9900}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				j.Query(bm.f)
			}
		})
	}
}
