package challengeval

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's DNS problem texts (bdns/problem.go, bdns/dns.go), verbatim.
const (
	// dnsProblemFormat is filled with a reason, a record type, a name and an
	// optional explanation suffix.
	dnsProblemFormat = "DNS problem: %s looking up %s for %s%s"
	dnsTimeout       = "query timed out"
	dnsCanceled      = "query timed out (and was canceled)"
	dnsNetFailure    = "networking error"
	dnsServerFailure = "server failure at resolver"
	// dnsTruncated is used when a CAA answer is still truncated over TCP
	// (Boulder never trusts a truncated CAA answer).
	dnsTruncated      = "response was truncated"
	nxdomainExplained = " - check that a DNS record exists for this domain"
	servfailExplained = " - the domain's nameservers may be malfunctioning"
	// noAddrsFormat is used per address family when an answer holds none.
	noAddrsFormat = "no valid %s records found for %s"
	// bothFailedFormat joins the A and AAAA failures.
	bothFailedFormat = "%s; %s"
)

const (
	// ednsSize is the UDP payload size advertised (DNS flag day 2020).
	ednsSize = 1232
	// maxCNAMEHops bounds CNAME chains, inside one answer and across the
	// follow-up queries made when a server returns only part of a chain.
	maxCNAMEHops = 8
)

// dnsError is a failed DNS query: an RCODE other than NOERROR, a transport
// error or a truncated CAA answer. Its Error text is Boulder's DNS problem
// detail.
type dnsError struct {
	qtype     uint16
	name      string
	rcode     int   // used when err is nil and truncated is false
	err       error // transport failure
	truncated bool
}

func (e *dnsError) Error() string {
	var reason, suffix string
	switch {
	case e.truncated:
		reason = dnsTruncated
	case e.err != nil:
		reason = transportReason(e.err)
	default:
		reason = dns.RcodeToString[e.rcode]
		if reason == "" {
			reason = fmt.Sprintf("RCODE%d", e.rcode)
		}
		switch e.rcode {
		case dns.RcodeNameError:
			suffix = nxdomainExplained
		case dns.RcodeServerFailure:
			suffix = servfailExplained
		}
	}
	return fmt.Sprintf(dnsProblemFormat, reason, dns.TypeToString[e.qtype], e.name, suffix)
}

func (e *dnsError) Unwrap() error { return e.err }

// transportReason classifies a failed exchange as Boulder does.
func transportReason(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return dnsCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return dnsTimeout
	case errors.As(err, &op):
		if op.Timeout() {
			return dnsTimeout
		}
		return dnsNetFailure
	}
	return dnsServerFailure
}

// resolver asks a fixed list of recursive servers, or the server of a
// forwarded zone. Safe for concurrent use: it holds no mutable state.
type resolver struct {
	servers  []string
	forwards forwards
	timeout  time.Duration
}

// SystemResolvers reads the nameservers of a resolv.conf file as
// "host:port" strings, for a caller (cmd/fakeca) that wants the system's
// resolvers in Config.Resolvers.
func SystemResolvers(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading resolvers: %w", err)
	}
	if len(cc.Servers) == 0 {
		return nil, fmt.Errorf("reading resolvers: no nameserver in %s", path)
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = net.JoinHostPort(s, cc.Port)
	}
	return out, nil
}

// exchange sends one query to each server in turn until one answers (with
// any RCODE). A truncated UDP answer is retried over TCP on the same server.
// A name inside a forwarded zone is asked of that zone's server only.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype) // sets RD
	m.SetEdns0(ednsSize, false)
	servers := r.servers
	if s, ok := r.forwards.serverFor(name); ok {
		servers = []string{s}
	}
	err := errors.New("no DNS resolvers configured")
	for _, server := range servers {
		var resp *dns.Msg
		resp, err = r.exchangeOne(ctx, m, server)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func (r *resolver) exchangeOne(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	resp, err := r.exchangeOver(ctx, m, server, "udp")
	if err != nil || !resp.Truncated {
		return resp, err
	}
	return r.exchangeOver(ctx, m, server, "tcp")
}

func (r *resolver) exchangeOver(ctx context.Context, m *dns.Msg, server, network string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout}
	resp, _, err := c.ExchangeContext(ctx, m.Copy(), server)
	return resp, err
}

// query returns the RRs of qtype owned by the end of name's CNAME chain.
// A NOERROR answer without such RRs yields an empty slice and no error. When
// the server returns a chain whose end has no records (it did not recurse),
// the end of the chain is asked for directly. CAA follows Boulder's
// LookupCAA: only SERVFAIL is an error among RCODEs (NXDOMAIN and the rest
// mean no records), and an answer still truncated over TCP is an error.
func (r *resolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	target := dns.Fqdn(name)
	for hop := 0; ; hop++ {
		resp, err := r.exchange(ctx, target, qtype)
		if err != nil {
			return nil, &dnsError{qtype: qtype, name: name, err: err}
		}
		if qtype == dns.TypeCAA {
			switch {
			case resp.Truncated:
				return nil, &dnsError{qtype: qtype, name: name, truncated: true}
			case resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeServerFailure:
				return nil, nil
			}
		}
		if resp.Rcode != dns.RcodeSuccess {
			return nil, &dnsError{qtype: qtype, name: name, rcode: resp.Rcode}
		}
		end, rrs := chainEnd(resp.Answer, target, qtype)
		if len(rrs) > 0 || strings.EqualFold(end, target) || hop >= maxCNAMEHops {
			return rrs, nil
		}
		target = end
	}
}

// chainEnd follows CNAMEs from owner through answer and returns the last name
// and the RRs of qtype it owns.
func chainEnd(answer []dns.RR, owner string, qtype uint16) (string, []dns.RR) {
	for range maxCNAMEHops {
		next := ""
		for _, rr := range answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
				next = c.Target
				break
			}
		}
		if next == "" || qtype == dns.TypeCNAME {
			break
		}
		owner = next
	}
	var out []dns.RR
	for _, rr := range answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, owner) {
			out = append(out, rr)
		}
	}
	return owner, out
}

// LookupHost resolves name to IP addresses: an IP literal is returned as
// is; then Config.HostOverrides is consulted; then A and AAAA are asked in
// parallel. Deliberately unlike Boulder, nothing is discarded: loopback,
// private and other reserved addresses are returned, because fakeca
// validates local services. On failure it
// returns an *acme.Error of type dns with Boulder's detail: the A and AAAA
// failures joined with "; " when both fail, e.g. "no valid A records found
// for x; no valid AAAA records found for x". Safe for concurrent use.
func (v *Validator) LookupHost(ctx context.Context, name string) ([]netip.Addr, error) {
	name = strings.TrimSuffix(name, ".")
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	if a, ok := v.overrides.lookup(name); ok {
		return a, nil
	}
	type result struct {
		addrs []netip.Addr
		err   error
	}
	aaaa := make(chan result, 1)
	go func() {
		a, err := v.lookupFamily(ctx, name, dns.TypeAAAA)
		aaaa <- result{a, err}
	}()
	v4, errA := v.lookupFamily(ctx, name, dns.TypeA)
	r6 := <-aaaa
	if errA != nil && r6.err != nil {
		return nil, acme.New(acme.DNS, bothFailedFormat, errA, r6.err)
	}
	return append(v4, r6.addrs...), nil
}

// lookupFamily asks for A or AAAA; an answer without usable addresses is an
// error too, as in Boulder.
func (v *Validator) lookupFamily(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	rrs, err := v.resolver.query(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, rr := range rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A.To4()
		case *dns.AAAA:
			ip = rr.AAAA.To16()
		}
		// Deliberate difference from Boulder: reserved addresses are kept.
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf(noAddrsFormat, dns.TypeToString[qtype], name)
	}
	return out, nil
}
