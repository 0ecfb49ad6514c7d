package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// requestLimiter is Let's Encrypt's load balancer: per client IP and
// endpoint class, a GCRA bucket in memory (it is not Boulder state, so it is
// neither persisted nor listed). Lock order: one shard at a time, held only
// for the map access and the arithmetic.
type requestLimiter struct {
	limits [numEndpoints]*limit
	shards [memShards]requestShard
}

type requestShard struct {
	mu sync.Mutex
	m  map[requestKey]int64
}

type requestKey struct {
	ep endpoint
	ip netip.Addr
}

// newRequestLimiter returns nil when no endpoint is limited.
func newRequestLimiter(limits [numEndpoints]*limit) *requestLimiter {
	r := &requestLimiter{limits: limits}
	any := false
	for _, l := range limits {
		any = any || l != nil
	}
	if !any {
		return nil
	}
	for i := range r.shards {
		r.shards[i].m = make(map[requestKey]int64)
	}
	return r
}

// take spends one request; it returns 0 if allowed, else how long to wait.
func (r *requestLimiter) take(now int64, ep endpoint, ip netip.Addr) int64 {
	l := r.limits[ep]
	if l == nil {
		return 0
	}
	a := ip.As16()
	h := uint32(2166136261) ^ uint32(ep)
	for _, b := range a {
		h = (h ^ uint32(b)) * 16777619
	}
	sh := &r.shards[h&(memShards-1)]
	k := requestKey{ep, ip}
	sh.mu.Lock()
	d := gcraSpend(now, l, 1, sh.m[k])
	if d.allowed {
		sh.m[k] = d.newTAT
	}
	sh.mu.Unlock()
	if d.allowed {
		return 0
	}
	return int64(d.retryIn)
}

// RequestAllowed applies the per-IP request limit of Let's Encrypt's load
// balancer to a request for path (e.g. "/acme/new-order") from ip. It
// returns nil, or an *acme.Error of type rateLimited with Status 503, the
// balancer's detail "Service busy; retry later." and RetryAfter rounded up
// to whole seconds. Paths outside /acme/ and /directory are not limited.
// Allocation-free when allowed; safe for concurrent use.
func (l *Limiter) RequestAllowed(path string, ip netip.Addr) error {
	if wait := l.requestWait(path, ip); wait > 0 {
		return busyError(wait)
	}
	return nil
}

// requestWait spends one request and returns 0, or how long to wait.
func (l *Limiter) requestWait(path string, ip netip.Addr) time.Duration {
	if l.requests == nil {
		return 0
	}
	ep := endpointOf(path)
	if ep == endpointNone {
		return 0
	}
	return time.Duration(l.requests.take(l.clk.Now().UnixNano(), ep, ip.Unmap()))
}

// LoadBalancer wraps next with the per-endpoint request limits and answers
// a request over the limit the way Let's Encrypt's load balancer does:
// 503, Retry-After in whole seconds and its fixed JSON body, without any
// of Boulder's headers (no Replay-Nonce, no Link). The client IP is taken
// from r.RemoteAddr. Wrap the ACME handler with it, outside everything that
// would add headers.
func (l *Limiter) LoadBalancer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			if wait := l.requestWait(r.URL.Path, ap.Addr().WithZone("")); wait > 0 {
				e := busyError(wait)
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
				w.WriteHeader(e.HTTPStatus())
				_, _ = w.Write([]byte(bodyServiceBusy))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
