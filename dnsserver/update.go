package dnsserver

import (
	"github.com/miekg/dns"
)

// updateResult is the outcome of one RFC 2136 UPDATE, for the log line.
type updateResult struct {
	rcode   int
	zone    string
	changed bool
}

// update applies an RFC 2136 UPDATE (what cert-manager's rfc2136 solver
// sends) and returns the response code. keyName is the verified TSIG key,
// "" for an unsigned request. Order of checks, as in BIND: zone section
// (FORMERR, NOTAUTH), permission (REFUSED), prerequisites and prescan,
// then the changes. Nothing changes unless every check passes.
func (s *Server) update(req *dns.Msg, keyName string) updateResult {
	if len(req.Question) != 1 || req.Question[0].Qtype != dns.TypeSOA {
		return updateResult{rcode: dns.RcodeFormatError}
	}
	z := req.Question[0]
	res := updateResult{zone: canonical(z.Name)}
	b := s.records.zone(res.zone)
	if z.Qclass != dns.ClassINET || b == nil {
		res.rcode = dns.RcodeNotAuth
		return res
	}
	if s.keys.required() && keyName == "" {
		res.rcode = dns.RcodeRefused
		return res
	}
	updates := make([]dns.RR, 0, len(req.Ns))
	for _, rr := range req.Ns {
		c, rcode := s.prescan(b, rr)
		if rcode != dns.RcodeSuccess {
			res.rcode = rcode
			return res
		}
		updates = append(updates, c)
	}
	res.rcode, res.changed = b.apply(s.records, req.Answer, updates)
	return res
}

// prescan checks one update RR (RFC 2136 §3.4.1) and returns a copy with a
// canonical owner name.
func (s *Server) prescan(b *bucket, rr dns.RR) (dns.RR, int) {
	c := dns.Copy(rr)
	h := c.Header()
	h.Name = canonical(h.Name)
	if s.records.bucketFor(h.Name) != b {
		return nil, dns.RcodeNotZone
	}
	switch h.Class {
	case dns.ClassINET:
		if isMeta(h.Rrtype) {
			return nil, dns.RcodeFormatError
		}
	case dns.ClassANY:
		if h.Ttl != 0 || h.Rdlength != 0 || (isMeta(h.Rrtype) && h.Rrtype != dns.TypeANY) {
			return nil, dns.RcodeFormatError
		}
	case dns.ClassNONE:
		if h.Ttl != 0 || isMeta(h.Rrtype) {
			return nil, dns.RcodeFormatError
		}
	default:
		return nil, dns.RcodeFormatError
	}
	return c, dns.RcodeSuccess
}

// apply checks the prerequisites and applies the prescanned updates under
// one write lock, so an UPDATE is atomic. It reports the rcode and
// whether the zone changed (then the SOA serial is bumped).
func (b *bucket) apply(r *Records, prereqs, updates []dns.RR) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rcode := b.checkPrereqs(r, prereqs); rcode != dns.RcodeSuccess {
		return rcode, false
	}
	changed := false
	for _, rr := range updates {
		changed = b.applyOne(rr) || changed
	}
	if changed {
		b.bump()
	}
	return dns.RcodeSuccess, changed
}

// applyOne applies one update RR (RFC 2136 §3.4.2). Changes to the
// synthesized apex SOA and NS are ignored, as RFC 2136 ignores deleting
// them. Caller holds the write lock.
func (b *bucket) applyOne(rr dns.RR) bool {
	h := rr.Header()
	switch h.Class {
	case dns.ClassINET:
		if h.Rrtype == dns.TypeSOA || b.synthesized(h.Name, h.Rrtype) {
			return false
		}
		h.Rdlength = 0
		return b.addRR(rr, true)
	case dns.ClassANY:
		if h.Rrtype == dns.TypeANY {
			return b.removeName(h.Name)
		}
		return !b.synthesized(h.Name, h.Rrtype) && b.removeSet(h.Name, h.Rrtype)
	default: // ClassNONE, checked by prescan
		if b.synthesized(h.Name, h.Rrtype) {
			return false
		}
		h.Class, h.Ttl, h.Rdlength = dns.ClassINET, 0, 0
		return b.removeRR(rr)
	}
}

// checkPrereqs evaluates the prerequisite section (RFC 2136 §3.2). Caller
// holds the lock.
func (b *bucket) checkPrereqs(r *Records, prereqs []dns.RR) int {
	type key struct {
		name string
		t    uint16
	}
	want := map[key][]dns.RR{}
	var order []key
	for _, rr := range prereqs {
		h := rr.Header()
		name := canonical(h.Name)
		if h.Ttl != 0 {
			return dns.RcodeFormatError
		}
		if r.bucketFor(name) != b {
			return dns.RcodeNotZone
		}
		if rcode := b.checkPrereq(name, h); rcode != dns.RcodeSuccess {
			return rcode
		}
		if h.Class == dns.ClassINET {
			c := dns.Copy(rr)
			c.Header().Name = name
			k := key{name, h.Rrtype}
			if _, ok := want[k]; !ok {
				order = append(order, k)
			}
			want[k] = append(want[k], c)
		}
	}
	for _, k := range order {
		if !sameSet(b.stored(k.name, k.t), want[k]) {
			return dns.RcodeNXRrset
		}
	}
	return dns.RcodeSuccess
}

// checkPrereq evaluates one value-independent prerequisite; value-dependent
// ones (class IN) are only checked for form here.
func (b *bucket) checkPrereq(name string, h *dns.RR_Header) int {
	switch h.Class {
	case dns.ClassANY, dns.ClassNONE:
		if h.Rdlength != 0 {
			return dns.RcodeFormatError
		}
		inUse := b.inUse(name)
		if h.Rrtype != dns.TypeANY {
			inUse = len(b.stored(name, h.Rrtype)) > 0
		}
		switch {
		case h.Class == dns.ClassANY && !inUse && h.Rrtype == dns.TypeANY:
			return dns.RcodeNameError
		case h.Class == dns.ClassANY && !inUse:
			return dns.RcodeNXRrset
		case h.Class == dns.ClassNONE && inUse && h.Rrtype == dns.TypeANY:
			return dns.RcodeYXDomain
		case h.Class == dns.ClassNONE && inUse:
			return dns.RcodeYXRrset
		}
	case dns.ClassINET:
		if isMeta(h.Rrtype) {
			return dns.RcodeFormatError
		}
	default:
		return dns.RcodeFormatError
	}
	return dns.RcodeSuccess
}

// sameSet reports whether two RRsets hold the same RDATA (order and TTL
// ignored).
func sameSet(have, want []dns.RR) bool {
	contains := func(set []dns.RR, rr dns.RR) bool {
		for _, x := range set {
			if dns.IsDuplicate(x, rr) {
				return true
			}
		}
		return false
	}
	for _, rr := range want {
		if !contains(have, rr) {
			return false
		}
	}
	for _, rr := range have {
		if !contains(want, rr) {
			return false
		}
	}
	return true
}
