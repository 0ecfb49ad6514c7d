package dnsserver

import (
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// Synthesized apex records. The SOA TTL bounds how long cert-manager caches
// zone discovery; its MINIMUM (negative-caching TTL, RFC 2308) is 1 s so a
// forwarding resolver forgets an NXDOMAIN almost at once.
const (
	soaTTL     = 60
	soaMinimum = 1
	nsTTL      = 60
	// apiTTL is the TTL of records set through the management API and of
	// default A/AAAA answers: 0, like pebble-challtestsrv, so nothing caches
	// them.
	apiTTL = 0
)

// node is the data at one owner name, guarded by its bucket's lock.
// Records are stored with a canonical (lower-case) owner and class IN.
type node struct {
	sets     map[uint16][]dns.RR
	servfail bool
}

// bucket holds the names of one served zone (apex set) or, for the single
// bucket with apex "", every name outside the served zones (answered the
// way pebble-challtestsrv answers everything). One RWMutex per bucket: an
// UPDATE's prerequisites and changes apply atomically under it, and no
// code holds two bucket locks at once.
type bucket struct {
	apex string

	mu     sync.RWMutex
	nodes  map[string]*node
	below  map[string]int // per name, how many names below it hold records
	serial uint32
}

func newBucket(apex string) *bucket {
	return &bucket{apex: apex, nodes: map[string]*node{}, below: map[string]int{}, serial: 1}
}

// hasData reports whether n holds at least one record.
func (n *node) hasData() bool { return n != nil && len(n.sets) > 0 }

// put replaces the RRset (name, t) with rrs (deleting it when rrs is
// empty), keeping the empty-non-terminal counts and dropping empty nodes.
// The caller holds b.mu for writing.
func (b *bucket) put(name string, t uint16, rrs []dns.RR) {
	n := b.nodes[name]
	before := n.hasData()
	if n == nil {
		if len(rrs) == 0 {
			return
		}
		n = &node{sets: map[uint16][]dns.RR{}}
		b.nodes[name] = n
	}
	if len(rrs) == 0 {
		delete(n.sets, t)
	} else {
		n.sets[t] = rrs
	}
	if after := n.hasData(); after != before {
		b.countAncestors(name, after)
	}
	if !n.hasData() && !n.servfail {
		delete(b.nodes, name)
	}
}

// countAncestors adjusts the empty-non-terminal counts of every ancestor of
// name strictly below the apex.
func (b *bucket) countAncestors(name string, add bool) {
	if b.apex == "" {
		return
	}
	for _, i := range dns.Split(name)[1:] {
		anc := name[i:]
		if len(anc) <= len(b.apex) {
			return
		}
		if add {
			b.below[anc]++
		} else if b.below[anc]--; b.below[anc] <= 0 {
			delete(b.below, anc)
		}
	}
}

// setServFail sets or clears the SERVFAIL flag of name. Caller holds the
// write lock.
func (b *bucket) setServFail(name string, on bool) bool {
	n := b.nodes[name]
	switch {
	case on && n == nil:
		b.nodes[name] = &node{sets: map[uint16][]dns.RR{}, servfail: true}
	case n == nil || n.servfail == on:
		return false
	default:
		n.servfail = on
		if !on && !n.hasData() {
			delete(b.nodes, name)
		}
	}
	return true
}

// addRR adds a canonical RR, replacing a duplicate (same RDATA) so its TTL
// is updated. With rfc2136 set it applies RFC 2136 §3.4.2.2's CNAME rules
// (a CNAME is ignored where other data exists and vice versa, and a CNAME
// replaces the previous one); without it, CNAME and other data may coexist
// (pebble-challtestsrv's behaviour; the CNAME wins when answering).
// Reports whether the zone changed. Caller holds the write lock.
func (b *bucket) addRR(rr dns.RR, rfc2136 bool) bool {
	h := rr.Header()
	n := b.nodes[h.Name]
	if rfc2136 && n.hasData() {
		_, hasCNAME := n.sets[dns.TypeCNAME]
		other := len(n.sets) > 1 || !hasCNAME
		if (h.Rrtype == dns.TypeCNAME && other) || (h.Rrtype != dns.TypeCNAME && hasCNAME) {
			return false
		}
	}
	var set []dns.RR
	if n != nil {
		set = slices.Clone(n.sets[h.Rrtype])
	}
	if h.Rrtype == dns.TypeCNAME {
		if len(set) == 1 && dns.IsDuplicate(set[0], rr) && set[0].Header().Ttl == h.Ttl {
			return false
		}
		b.put(h.Name, h.Rrtype, []dns.RR{rr})
		return true
	}
	for i, old := range set {
		if dns.IsDuplicate(old, rr) {
			if old.Header().Ttl == h.Ttl {
				return false
			}
			set[i] = rr
			b.put(h.Name, h.Rrtype, set)
			return true
		}
	}
	b.put(h.Name, h.Rrtype, append(set, rr))
	return true
}

// removeRR deletes the RR whose RDATA equals rr's (TTL ignored). Caller
// holds the write lock.
func (b *bucket) removeRR(rr dns.RR) bool {
	h := rr.Header()
	n := b.nodes[h.Name]
	if n == nil {
		return false
	}
	set := n.sets[h.Rrtype]
	i := slices.IndexFunc(set, func(old dns.RR) bool { return dns.IsDuplicate(old, rr) })
	if i < 0 {
		return false
	}
	b.put(h.Name, h.Rrtype, slices.Delete(slices.Clone(set), i, i+1))
	return true
}

// removeSet deletes the RRset (name, t). Caller holds the write lock.
func (b *bucket) removeSet(name string, t uint16) bool {
	if n := b.nodes[name]; n == nil || len(n.sets[t]) == 0 {
		return false
	}
	b.put(name, t, nil)
	return true
}

// removeName deletes every stored RRset at name. Caller holds the write
// lock.
func (b *bucket) removeName(name string) bool {
	n := b.nodes[name]
	if !n.hasData() {
		return false
	}
	for t := range n.sets {
		b.put(name, t, nil)
	}
	return true
}

// synthesized reports whether (name, t) is one of the apex records the
// server makes up (SOA and NS), which updates cannot change.
func (b *bucket) synthesized(name string, t uint16) bool {
	return b.apex != "" && name == b.apex && (t == dns.TypeSOA || t == dns.TypeNS)
}

// inUse reports whether name owns at least one record (RFC 2136 "name is
// in use"). Caller holds the lock.
func (b *bucket) inUse(name string) bool {
	return (b.apex != "" && name == b.apex) || b.nodes[name].hasData()
}

// exists reports whether name exists in the zone: it owns records or is an
// empty non-terminal. Caller holds the lock.
func (b *bucket) exists(name string) bool {
	return b.inUse(name) || b.below[name] > 0
}

// stored returns copies of the RRset (name, t) including the synthesized
// apex records; t == TypeANY returns every set. Caller holds the lock.
func (b *bucket) stored(name string, t uint16) []dns.RR {
	var out []dns.RR
	if b.synthesized(name, t) || (t == dns.TypeANY && b.apex != "" && name == b.apex) {
		if t != dns.TypeNS {
			out = append(out, b.soa())
		}
		if t != dns.TypeSOA {
			out = append(out, b.ns())
		}
	}
	n := b.nodes[name]
	if n == nil {
		return out
	}
	if t != dns.TypeANY {
		return appendCopies(out, n.sets[t])
	}
	types := make([]uint16, 0, len(n.sets))
	for typ := range n.sets {
		types = append(types, typ)
	}
	slices.Sort(types)
	for _, typ := range types {
		out = appendCopies(out, n.sets[typ])
	}
	return out
}

// soa is the zone's synthesized SOA. Caller holds the lock.
func (b *bucket) soa() *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: b.apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
		Ns: "ns1." + b.apex, Mbox: "hostmaster." + b.apex, Serial: b.serial,
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: soaMinimum}
}

// ns is the zone's synthesized NS record.
func (b *bucket) ns() *dns.NS {
	return &dns.NS{Hdr: dns.RR_Header{Name: b.apex, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL},
		Ns: "ns1." + b.apex}
}

// bump increments the SOA serial after a change. Caller holds the write
// lock.
func (b *bucket) bump() {
	b.serial++
	if b.serial == 0 {
		b.serial = 1
	}
}

func appendCopies(dst, src []dns.RR) []dns.RR {
	for _, rr := range src {
		dst = append(dst, dns.Copy(rr))
	}
	return dst
}
