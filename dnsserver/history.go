package dnsserver

import (
	"hash/maphash"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// History bounds: per host and kind the newest maxEvents are kept, and a
// shard forgets an arbitrary host when it tracks more than maxHosts.
const (
	maxEvents     = 1000
	maxHosts      = 4096
	historyShards = 16
)

// HTTPRequest is one HTTP-01 request (plain HTTP or HTTPS), as
// pebble-challtestsrv records it
// (the JSON field names are the Go names).
type HTTPRequest struct {
	// URL is the request URI (path and query).
	URL string
	// Host is the Host header, port included.
	Host string
	// HTTPS is true for a request to the HTTPS-01 listener.
	HTTPS bool
	// ServerName is the TLS SNI of an HTTPS request; empty over HTTP.
	ServerName string
	// UserAgent is the User-Agent header.
	UserAgent string
}

// DNSRequest is one DNS question received over UDP, TCP or HTTPS (QUERY
// opcode only).
type DNSRequest struct {
	// Question is the question as received; its JSON is
	// {"Name":…,"Qtype":…,"Qclass":…}.
	Question dns.Question
	// UserAgent is the User-Agent header of a DNS-over-HTTPS request;
	// empty over UDP and TCP.
	UserAgent string
}

// TLSALPNRequest is one TLS-ALPN-01 ClientHello.
type TLSALPNRequest struct {
	// ServerName is the SNI.
	ServerName string
	// SupportedProtos are the ALPN protocols offered.
	SupportedProtos []string
}

// History records the requests the responders receive, per host, like
// pebble-challtestsrv: HTTP-01 requests by Host header without the port,
// DNS questions by name without the trailing dot, TLS-ALPN-01 handshakes
// by SNI. Look-ups ignore case and a trailing dot. Safe for concurrent use
// (sharded by host); Server.History returns the server's.
type History struct {
	seed   maphash.Seed
	shards [historyShards]historyShard
}

type historyShard struct {
	mu    sync.Mutex
	hosts map[string]*hostHistory
}

// hostHistory is one host's events, guarded by its shard.
type hostHistory struct {
	http    []HTTPRequest
	dns     []DNSRequest
	tlsalpn []TLSALPNRequest
}

func newHistory() *History {
	h := &History{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].hosts = map[string]*hostHistory{}
	}
	return h
}

// historyKey normalizes a host for storage and look-up.
func historyKey(host string) string { return strings.ToLower(strings.TrimSuffix(host, ".")) }

// with runs fn on host's events under its shard lock; create adds a host
// that has no events yet.
func (h *History) with(host string, create bool, fn func(*hostHistory)) {
	key := historyKey(host)
	sh := &h.shards[maphash.String(h.seed, key)%historyShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	hh := sh.hosts[key]
	if hh == nil {
		if !create {
			return
		}
		if len(sh.hosts) >= maxHosts {
			for k := range sh.hosts {
				delete(sh.hosts, k)
				break
			}
		}
		hh = &hostHistory{}
		sh.hosts[key] = hh
	}
	fn(hh)
}

// push appends e to log, keeping the newest maxEvents.
func push[T any](log []T, e T) []T {
	if len(log) >= maxEvents {
		log = slices.Delete(log, 0, len(log)-maxEvents+1)
	}
	return append(log, e)
}

func (h *History) addHTTP(e HTTPRequest) {
	host := e.Host
	if hh, _, err := net.SplitHostPort(e.Host); err == nil {
		host = hh
	}
	h.with(host, true, func(hh *hostHistory) { hh.http = push(hh.http, e) })
}

func (h *History) addDNS(q dns.Question, userAgent string) {
	h.with(q.Name, true, func(hh *hostHistory) { hh.dns = push(hh.dns, DNSRequest{Question: q, UserAgent: userAgent}) })
}

func (h *History) addTLSALPN(e TLSALPNRequest) {
	e.SupportedProtos = slices.Clone(e.SupportedProtos)
	h.with(e.ServerName, true, func(hh *hostHistory) { hh.tlsalpn = push(hh.tlsalpn, e) })
}

// HTTP returns host's HTTP-01 requests, oldest first (never nil).
func (h *History) HTTP(host string) []HTTPRequest {
	out := []HTTPRequest{}
	h.with(host, false, func(hh *hostHistory) { out = append(out, hh.http...) })
	return out
}

// DNS returns the DNS questions for host, oldest first (never nil).
func (h *History) DNS(host string) []DNSRequest {
	out := []DNSRequest{}
	h.with(host, false, func(hh *hostHistory) { out = append(out, hh.dns...) })
	return out
}

// TLSALPN returns host's TLS-ALPN-01 handshakes, oldest first (never nil).
func (h *History) TLSALPN(host string) []TLSALPNRequest {
	out := []TLSALPNRequest{}
	h.with(host, false, func(hh *hostHistory) {
		for _, e := range hh.tlsalpn {
			e.SupportedProtos = slices.Clone(e.SupportedProtos)
			out = append(out, e)
		}
	})
	return out
}

// HistoryKind selects one kind of request history.
type HistoryKind int

// History kinds, named as /clear-request-history's "type" names them
// ("http", "dns", "tlsalpn"). Add new kinds to parseHistoryKind too.
const (
	HistoryHTTP HistoryKind = iota
	HistoryDNS
	HistoryTLSALPN
)

// parseHistoryKind maps /clear-request-history's "type" to a kind.
func parseHistoryKind(s string) (HistoryKind, bool) {
	switch s {
	case "http":
		return HistoryHTTP, true
	case "dns":
		return HistoryDNS, true
	case "tlsalpn":
		return HistoryTLSALPN, true
	}
	return 0, false
}

// Clear forgets host's requests of one kind.
func (h *History) Clear(host string, kind HistoryKind) {
	h.with(host, false, func(hh *hostHistory) {
		switch kind {
		case HistoryHTTP:
			hh.http = nil
		case HistoryDNS:
			hh.dns = nil
		case HistoryTLSALPN:
			hh.tlsalpn = nil
		}
	})
}
