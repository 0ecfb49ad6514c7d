package events

import (
	"slices"
	"sort"
)

// Filter selects events for Query. Every field that is set must match
// (AND); the zero Filter matches every event.
type Filter struct {
	// Identifier matches events with an identifier of this value,
	// case-insensitively. A name and its wildcard match each other:
	// "example.com" finds "*.example.com" orders and "*.example.com" finds
	// the "example.com" authorization that validates it. Subdomains do
	// not match ("example.com" does not find "www.example.com").
	Identifier string
	// Account matches events of this account ID.
	Account int64
	// Order matches events of this order ID.
	Order int64
	// Kinds matches events of any of these kinds.
	Kinds []Kind
	// Since matches events whose Seq is greater. When it is set, Query
	// returns the oldest Limit matches after it, so a client can page
	// forward without gaps; otherwise it returns the newest Limit matches.
	Since uint64
	// Limit caps the number of events returned; 0 or less means no cap.
	Limit int
}

// Query returns the events that match f, oldest first (newest last), as
// deep copies. It uses the identifier, account or order index with the
// fewest entries, and scans the whole ring only when none of those is set.
// Query holds the journal's read lock while it runs, so Appends wait for
// it; at the default capacity a full scan takes well under a millisecond.
func (j *Journal) Query(f Filter) []Event {
	var key string
	if f.Identifier != "" {
		if key = identifierKey(f.Identifier); key == "" {
			return []Event{}
		}
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	s, ok := j.candidates(f, key)
	if !ok {
		return []Event{}
	}
	match := func(e *Event) bool {
		return (f.Account == 0 || e.Account == f.Account) &&
			(f.Order == 0 || e.Order == f.Order) &&
			(len(f.Kinds) == 0 || slices.Contains(f.Kinds, e.Kind)) &&
			(key == "" || e.hasKey(key))
	}
	// Collect matching positions first (8 bytes each), then copy exactly
	// that many events.
	var hits []uint64
	n := s.len()
	more := func() bool { return f.Limit <= 0 || len(hits) < f.Limit }
	if f.Since > 0 {
		i := sort.Search(n, func(i int) bool { return j.at(s.pos(i)).Seq > f.Since })
		for ; i < n && more(); i++ {
			if p := s.pos(i); match(j.at(p)) {
				hits = append(hits, p)
			}
		}
	} else {
		for i := n - 1; i >= 0 && more(); i-- {
			if p := s.pos(i); match(j.at(p)) {
				hits = append(hits, p)
			}
		}
		slices.Reverse(hits)
	}
	res := make([]Event, len(hits))
	for i, p := range hits {
		res[i] = j.at(p).clone()
	}
	return res
}

// span is the positions a query looks at, in increasing order: an index
// list, or (list == nil) the whole ring from first.
type span struct {
	list  []uint64
	first uint64
	n     int
}

func (s span) len() int { return s.n }

func (s span) pos(i int) uint64 {
	if s.list != nil {
		return s.list[i]
	}
	return s.first + uint64(i)
}

// candidates picks the shortest index list among f's identifier, account
// and order; ok is false when one of them has no events at all. Callers
// hold mu.
func (j *Journal) candidates(f Filter, key string) (s span, ok bool) {
	var lists [][]uint64
	if key != "" {
		lists = append(lists, j.byIdent[key])
	}
	if f.Account != 0 {
		lists = append(lists, j.byAcct[f.Account])
	}
	if f.Order != 0 {
		lists = append(lists, j.byOrder[f.Order])
	}
	if len(lists) == 0 {
		return span{first: j.total - uint64(len(j.buf)), n: len(j.buf)}, true
	}
	best := lists[0]
	for _, l := range lists[1:] {
		if len(l) < len(best) {
			best = l
		}
	}
	if len(best) == 0 {
		return span{}, false
	}
	return span{list: best, n: len(best)}, true
}

// at returns the event at position p, which must be in the ring. Callers
// hold mu.
func (j *Journal) at(p uint64) *Event { return &j.buf[p%j.capacity] }

// insert stores e at the next position, evicting the oldest event when the
// ring is full, and indexes it. Callers hold mu for writing.
func (j *Journal) insert(e Event) {
	p := j.total
	if uint64(len(j.buf)) < j.capacity {
		j.buf = append(j.buf, e)
	} else {
		slot := &j.buf[p%j.capacity]
		j.unindex(slot, p-j.capacity)
		*slot = e
	}
	j.total++
	stored := j.at(p)
	for _, id := range stored.Identifiers {
		if k := identifierKey(id.Value); k != "" {
			j.byIdent[k] = push(j.byIdent[k], p)
		}
	}
	if stored.Account != 0 {
		j.byAcct[stored.Account] = push(j.byAcct[stored.Account], p)
	}
	if stored.Order != 0 {
		j.byOrder[stored.Order] = push(j.byOrder[stored.Order], p)
	}
}

// unindex removes the evicted event e, at position p, from the indexes.
// Eviction goes oldest first, so p is at the front of each of its lists.
func (j *Journal) unindex(e *Event, p uint64) {
	for _, id := range e.Identifiers {
		if k := identifierKey(id.Value); k != "" {
			pop(j.byIdent, k, p)
		}
	}
	if e.Account != 0 {
		pop(j.byAcct, e.Account, p)
	}
	if e.Order != 0 {
		pop(j.byOrder, e.Order, p)
	}
}

// push appends p to list unless it is already last (an event with "x"
// and "*.x" is indexed once under "x").
func push(list []uint64, p uint64) []uint64 {
	if n := len(list); n > 0 && list[n-1] == p {
		return list
	}
	return append(list, p)
}

// pop removes p from the front of m[k], deleting an emptied list. Slicing
// from the front leaves the dropped prefix to the next reallocation by
// append, so a list's memory stays proportional to its length.
func pop[K comparable](m map[K][]uint64, k K, p uint64) {
	list := m[k]
	if len(list) == 0 || list[0] != p {
		return
	}
	if len(list) == 1 {
		delete(m, k)
		return
	}
	m[k] = list[1:]
}
