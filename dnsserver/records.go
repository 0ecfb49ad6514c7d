package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Records is the DNS data the server answers from: the served zones, the
// names outside them that were set through this API (answered like
// pebble-challtestsrv answers every name), and the default A/AAAA answers.
// RFC 2136 updates and the management API both write here. Safe for
// concurrent use; the zero value is not usable (Server.Records returns
// the server's). Host names are case-insensitive, with or without the
// trailing dot. Methods that take several values validate all of them
// before changing anything.
type Records struct {
	zones   []*bucket // longest apex first
	byApex  map[string]*bucket
	outside *bucket

	defMu      sync.RWMutex
	def4, def6 netip.Addr // invalid means off
}

// CAAPolicy is one CAA record for Records.AddCAA and /add-caa. The JSON
// names match pebble-challtestsrv (Tag, Value; case-insensitive); Flag is
// a fakeca extension (128 marks the record critical).
type CAAPolicy struct {
	Flag  uint8  `json:"flag,omitempty"`
	Tag   string `json:"tag"`
	Value string `json:"value"`
}

// caaTag is RFC 8659's property tag: 1-15 ASCII letters and digits.
var caaTag = regexp.MustCompile(`^[A-Za-z0-9]{1,15}$`)

// newRecords builds the store for apexes (canonical, deduplicated).
func newRecords(apexes []string, def4, def6 string) *Records {
	r := &Records{byApex: map[string]*bucket{}, outside: newBucket("")}
	for _, a := range apexes {
		b := newBucket(a)
		r.zones = append(r.zones, b)
		r.byApex[a] = b
	}
	sort.SliceStable(r.zones, func(i, j int) bool {
		return dns.CountLabel(r.zones[i].apex) > dns.CountLabel(r.zones[j].apex)
	})
	r.def4, _ = netip.ParseAddr(def4)
	r.def6, _ = netip.ParseAddr(def6)
	return r
}

// Zones returns the served zone apexes, canonical and sorted.
func (r *Records) Zones() []string {
	out := make([]string, 0, len(r.zones))
	for _, b := range r.zones {
		out = append(out, b.apex)
	}
	slices.Sort(out)
	return out
}

// bucketFor returns the bucket that holds the canonical name: its
// closest enclosing served zone, or the outside bucket.
func (r *Records) bucketFor(name string) *bucket {
	for _, b := range r.zones {
		if dns.IsSubDomain(b.apex, name) {
			return b
		}
	}
	return r.outside
}

// zone returns the bucket of the served zone with exactly this canonical
// apex, or nil.
func (r *Records) zone(apex string) *bucket { return r.byApex[apex] }

// modify runs fn on host's bucket under its write lock and bumps the SOA
// serial when fn reports a change.
func (r *Records) modify(host string, fn func(b *bucket, name string) bool) error {
	if err := checkName(host); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	name := canonical(host)
	b := r.bucketFor(name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if fn(b, name) && b.apex != "" {
		b.bump()
	}
	return nil
}

// add adds rrs (owner names already set to host) to host's RRsets.
func (r *Records) add(host string, rrs []dns.RR) error {
	return r.modify(host, func(b *bucket, name string) bool {
		changed := false
		for _, rr := range rrs {
			rr.Header().Name = name
			changed = b.addRR(rr, false) || changed
		}
		return changed
	})
}

// clear deletes host's RRset of type t.
func (r *Records) clear(host string, t uint16) error {
	return r.modify(host, func(b *bucket, name string) bool { return b.removeSet(name, t) })
}

// SetDefaultIPv4 sets the answer to A queries for names without A
// records; "" turns it off (/set-default-ipv4).
func (r *Records) SetDefaultIPv4(ip string) error { return r.setDefault(ip, true) }

// SetDefaultIPv6 sets the default AAAA answer; "" turns it off
// (/set-default-ipv6).
func (r *Records) SetDefaultIPv6(ip string) error { return r.setDefault(ip, false) }

func (r *Records) setDefault(ip string, v4 bool) error {
	if err := checkIP(ip, v4); err != nil {
		return err
	}
	a, _ := netip.ParseAddr(ip)
	r.defMu.Lock()
	defer r.defMu.Unlock()
	if v4 {
		r.def4 = a
	} else {
		r.def6 = a
	}
	return nil
}

// defaults returns the current default answers (invalid = off).
func (r *Records) defaults() (v4, v6 netip.Addr) {
	r.defMu.RLock()
	defer r.defMu.RUnlock()
	return r.def4, r.def6
}

// AddA appends A records for host (/add-a).
func (r *Records) AddA(host string, addrs ...string) error { return r.addAddrs(host, addrs, true) }

// AddAAAA appends AAAA records for host (/add-aaaa).
func (r *Records) AddAAAA(host string, addrs ...string) error { return r.addAddrs(host, addrs, false) }

func (r *Records) addAddrs(host string, addrs []string, v4 bool) error {
	if len(addrs) == 0 {
		return errors.New("addresses: must not be empty")
	}
	var rrs []dns.RR
	for i, s := range addrs {
		if err := checkIP(s, v4); err != nil || s == "" {
			return fmt.Errorf("addresses[%d]: %q is not an IPv%s address", i, s, map[bool]string{true: "4", false: "6"}[v4])
		}
		ip := net.ParseIP(s)
		if v4 {
			rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: ip.To4()})
		} else {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
		}
	}
	return r.add(host, rrs)
}

// ClearA deletes host's A records (/clear-a).
func (r *Records) ClearA(host string) error { return r.clear(host, dns.TypeA) }

// ClearAAAA deletes host's AAAA records (/clear-aaaa).
func (r *Records) ClearAAAA(host string) error { return r.clear(host, dns.TypeAAAA) }

// SetTXT appends one TXT value for host (/set-txt: it appends, despite its
// name). Values over 255 bytes are split into several strings of one RR.
func (r *Records) SetTXT(host, value string) error {
	return r.add(host, []dns.RR{&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(value)}})
}

// ClearTXT deletes every TXT value of host (/clear-txt).
func (r *Records) ClearTXT(host string) error { return r.clear(host, dns.TypeTXT) }

// AddCAA appends CAA records for host (/add-caa).
func (r *Records) AddCAA(host string, policies ...CAAPolicy) error {
	if len(policies) == 0 {
		return errors.New("policies: must not be empty")
	}
	var rrs []dns.RR
	for i, p := range policies {
		if !caaTag.MatchString(p.Tag) {
			return fmt.Errorf("policies[%d].tag: %q is not 1-15 letters or digits", i, p.Tag)
		}
		rrs = append(rrs, &dns.CAA{Hdr: hdr(dns.TypeCAA), Flag: p.Flag, Tag: p.Tag, Value: p.Value})
	}
	return r.add(host, rrs)
}

// ClearCAA deletes host's CAA records (/clear-caa).
func (r *Records) ClearCAA(host string) error { return r.clear(host, dns.TypeCAA) }

// SetCNAME makes host an alias of target, replacing any previous CNAME
// (/set-cname). Other data at host is kept but hidden while the CNAME
// exists, as in pebble-challtestsrv.
func (r *Records) SetCNAME(host, target string) error {
	if err := checkName(target); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	return r.add(host, []dns.RR{&dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.Fqdn(target)}})
}

// ClearCNAME deletes host's CNAME (/clear-cname).
func (r *Records) ClearCNAME(host string) error { return r.clear(host, dns.TypeCNAME) }

// SetServFail makes every query for host (any type) answer SERVFAIL
// (/set-servfail).
func (r *Records) SetServFail(host string) error {
	return r.modify(host, func(b *bucket, name string) bool { return b.setServFail(name, true) })
}

// ClearServFail undoes SetServFail (/clear-servfail).
func (r *Records) ClearServFail(host string) error {
	return r.modify(host, func(b *bucket, name string) bool { return b.setServFail(name, false) })
}

// Add adds any record, e.g. an MX or SRV for a test; its owner name picks
// the bucket. A record with the same RDATA is replaced (so its TTL
// changes). SOA and apex NS records are synthesized and cannot be added.
func (r *Records) Add(rr dns.RR) error {
	if rr == nil {
		return errors.New("record: must not be nil")
	}
	c := dns.Copy(rr)
	h := c.Header()
	h.Class, h.Rdlength = dns.ClassINET, 0
	if h.Rrtype == dns.TypeSOA || isMeta(h.Rrtype) {
		return fmt.Errorf("record: type %s cannot be added", dns.TypeToString[h.Rrtype])
	}
	if b := r.zone(canonical(h.Name)); b != nil && h.Rrtype == dns.TypeNS {
		return errors.New("record: the apex NS record is synthesized and cannot be added")
	}
	return r.add(h.Name, []dns.RR{c})
}

// Get returns copies of host's stored records of type t (dns.TypeANY for
// all), including the synthesized apex SOA and NS; no CNAME is followed
// and no default address is added.
func (r *Records) Get(host string, t uint16) []dns.RR {
	name := canonical(host)
	b := r.bucketFor(name)
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.stored(name, t)
}

// hdr is the header of an API-set record; add fills in the owner.
func hdr(t uint16) dns.RR_Header {
	return dns.RR_Header{Rrtype: t, Class: dns.ClassINET, Ttl: apiTTL}
}

// splitTXT splits a value into the 255-byte character-strings of one TXT
// RR (RFC 1035 §3.3.14), as pebble-challtestsrv v1.4.2 does, in miekg/dns's
// escaped presentation form (so `"`, `\` and unprintable bytes survive).
func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, escapeTXT(v[:255]))
		v = v[255:]
	}
	return append(out, escapeTXT(v))
}

// escapeTXT escapes one raw character-string the way miekg/dns unpacks it.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isMeta reports whether t is a query-only or transaction meta type that
// can never be stored (RFC 6895 §3.1).
func isMeta(t uint16) bool {
	switch t {
	case dns.TypeNone, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return false
}
