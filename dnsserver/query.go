package dnsserver

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds how many CNAMEs one answer follows.
const maxCNAMEChain = 8

// answer is what one question resolves to.
type answer struct {
	rcode         int
	authoritative bool
	answer, ns    []dns.RR
}

// step is what one name holds for one query type.
type step struct {
	rrs      []dns.RR // copies, owner set to the name as asked
	target   string   // CNAME target to follow, "" if none
	exists   bool     // the name exists (records or empty non-terminal)
	servfail bool
	soa      *dns.SOA // the zone's SOA; nil outside the served zones
}

// challtestsrvTypes are the query types pebble-challtestsrv answers.
var challtestsrvTypes = map[uint16]bool{dns.TypeA: true, dns.TypeAAAA: true, dns.TypeTXT: true,
	dns.TypeCNAME: true, dns.TypeCAA: true}

// query answers a QUERY's single question into resp and records it in
// the History with userAgent.
func (s *Server) query(req, resp *dns.Msg, userAgent string) {
	q := req.Question[0]
	s.history.addDNS(q, userAgent)
	switch {
	case s.cfg.ChalltestsrvAnswers && !challtestsrvTypes[q.Qtype]:
		resp.Rcode = dns.RcodeNotImplemented
		return
	case q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY:
		resp.Rcode = dns.RcodeRefused
		return
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		resp.Rcode = dns.RcodeRefused
		return
	case isMeta(q.Qtype) && q.Qtype != dns.TypeANY:
		resp.Rcode = dns.RcodeFormatError
		return
	}
	a := s.records.resolve(q.Name, q.Qtype)
	resp.Rcode, resp.Authoritative = a.rcode, a.authoritative
	resp.Answer, resp.Ns = a.answer, a.ns
}

// resolve answers (qname, qtype) from the store, following CNAMEs across
// buckets (one bucket lock at a time). Inside a served zone the answer is
// authoritative, with the zone's SOA in Authority for NXDOMAIN and NODATA.
// Outside, it is what pebble-challtestsrv answers: NOERROR, possibly empty,
// with a fake SOA in Authority.
func (r *Records) resolve(qname string, qtype uint16) answer {
	var a answer
	owner := qname
	seen := map[string]bool{}
	v4, v6 := r.defaults()
	for hop := 0; hop <= maxCNAMEChain; hop++ {
		name := canonical(owner)
		b := r.bucketFor(name)
		st := b.lookup(name, qtype, v4, v6)
		if hop == 0 {
			a.authoritative = b.apex != ""
		}
		if st.servfail {
			return answer{rcode: dns.RcodeServerFailure, authoritative: a.authoritative}
		}
		a.answer = append(a.answer, withOwner(st.rrs, owner)...)
		seen[name] = true
		if st.target == "" || seen[canonical(st.target)] {
			if len(st.rrs) == 0 || st.target != "" {
				a.negative(st)
			}
			return a
		}
		owner = st.target
	}
	return a
}

// negative fills Authority (and NXDOMAIN) for a name without the data.
// After a CNAME the rcode describes the last name (RFC 6604).
func (a *answer) negative(st step) {
	if st.soa == nil {
		a.ns = []dns.RR{outsideSOA()}
		return
	}
	st.soa.Hdr.Ttl = min(st.soa.Hdr.Ttl, st.soa.Minttl) // RFC 2308 §5
	a.ns = []dns.RR{st.soa}
	if !st.exists {
		a.rcode = dns.RcodeNameError
	}
}

// lookup reads what the canonical name holds for qtype, adding the
// default address for A/AAAA when there is none.
func (b *bucket) lookup(name string, qtype uint16, v4, v6 netip.Addr) step {
	b.mu.RLock()
	defer b.mu.RUnlock()
	st := step{exists: b.exists(name)}
	if b.apex != "" {
		st.soa = b.soa()
	}
	n := b.nodes[name]
	if n != nil && n.servfail {
		st.servfail = true
		return st
	}
	if n != nil && qtype != dns.TypeCNAME && qtype != dns.TypeANY {
		if c := n.sets[dns.TypeCNAME]; len(c) > 0 {
			st.rrs = appendCopies(nil, c)
			st.target = c[0].(*dns.CNAME).Target
			return st
		}
	}
	st.rrs = b.stored(name, qtype)
	if len(st.rrs) == 0 {
		st.rrs = defaultAddr(qtype, v4, v6)
	}
	return st
}

// defaultAddr is the default answer for an A or AAAA query, if any.
func defaultAddr(qtype uint16, v4, v6 netip.Addr) []dns.RR {
	switch {
	case qtype == dns.TypeA && v4.IsValid():
		return []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.IP(v4.AsSlice())}}
	case qtype == dns.TypeAAAA && v6.IsValid():
		return []dns.RR{&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.IP(v6.AsSlice())}}
	}
	return nil
}

// withOwner sets the owner name of rrs to the name as the client wrote it
// (all of rrs belong to that name).
func withOwner(rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		rr.Header().Name = owner
	}
	return rrs
}

// outsideSOA is the SOA pebble-challtestsrv puts in Authority for every
// answer about a name it is not authoritative for.
func outsideSOA() *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: "challtestsrv.invalid.", Rrtype: dns.TypeSOA, Class: dns.ClassINET},
		Ns: "ns.challtestsrv.invalid.", Mbox: "master.challtestsrv.invalid.",
		Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 1}
}
