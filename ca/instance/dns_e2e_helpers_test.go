package instance_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/acme"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
	"github.com/fakeca/fakeca/ratelimit"
)

// The DNSE2E tests issue certificates whose challenges are provisioned only
// through fakeca's own DNS server: over RFC 2136 with cert-manager's
// provider, or through its pebble-challtestsrv-compatible API. The CA has
// no other resolver and no host overrides, so nothing else can make a
// validation succeed.

// Problem types the DNSE2E tests expect on failed challenges.
const (
	dnsE2EUnauthorized = "urn:ietf:params:acme:error:unauthorized"
	dnsE2EDNSProblem   = "urn:ietf:params:acme:error:dns"
	dnsE2ECAAProblem   = "urn:ietf:params:acme:error:caa"
	dnsE2EConnection   = "urn:ietf:params:acme:error:connection"
	dnsE2ETLSALPN01    = "tls-alpn-01"
)

// dnsE2EConfig is a DNS server on a free loopback port serving zones (and
// test.), with the challtestsrv API off.
func dnsE2EConfig(zones ...string) dnsserver.Config {
	cfg := dnsserver.DefaultConfig()
	cfg.Listen, cfg.ManagementListen, cfg.Zones = "127.0.0.1:0", "", zones
	return cfg
}

// dnsE2EStart starts a CA running the DNS server dnsCfg; its validator
// forwards every name in the served zones to that server. The CA stops at
// the end of t. Start errors are returned so callers can retry a port
// that was taken meanwhile.
func dnsE2EStart(t *testing.T, dnsCfg dnsserver.Config, val challengeval.Config) (*instance.Instance, error) {
	t.Helper()
	val.LookupTimeout, val.HTTPTimeout = 5*time.Second, 5*time.Second
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		CA: ca.DefaultConfig(), DNS: &dnsCfg, Validation: val,
		RateLimits: ratelimit.Config{DisableRequestLimits: true}}
	inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		// e2eCheckAIA fetches with the default client from concurrent
		// subtests; drop its spare connections, which Shutdown would
		// otherwise wait 5 s for (net/http treats a connection that never
		// sent a request as active for its first 5 s).
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := inst.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return inst, nil
}

// dnsE2EPresenter publishes the response to one challenge of identifier
// (without "*."); value is what e2eOps.keyAuth gives for it: the TXT digest
// for dns-01, the key authorization otherwise.
type dnsE2EPresenter func(t *testing.T, identifier, token, value string)

// dnsE2EAuthorize creates an order for names, presents the typ challenge of
// every authorization (all must be pending) and then accepts them all.
// It returns the order and its authorization URLs still being validated.
func dnsE2EAuthorize(ctx context.Context, t *testing.T, ops e2eOps, names []string, typ string,
	present dnsE2EPresenter) e2eOrder {
	t.Helper()
	o, err := ops.order(ctx, names, "", "")
	if err != nil {
		t.Fatalf("new-order %v: %v", names, err)
	}
	var chals []string
	for _, u := range o.authzs {
		a, err := ops.authz(ctx, u)
		if err != nil {
			t.Fatalf("authorization %s: %v", u, err)
		}
		ch, ok := a.challenges[typ]
		if a.status != "pending" || !ok {
			t.Fatalf("authorization for %s is %s and offers %v, want a pending %s challenge", a.identifier, a.status, a.challenges, typ)
		}
		value, err := ops.keyAuth(typ, ch.token)
		if err != nil {
			t.Fatal(err)
		}
		present(t, a.identifier, ch.token, value)
		chals = append(chals, ch.url)
	}
	for _, u := range chals {
		if err := ops.accept(ctx, u); err != nil {
			t.Fatalf("accept %s: %v", u, err)
		}
	}
	return o
}

// dnsE2EIssue authorizes names with typ (see dnsE2EAuthorize), waits for
// every authorization to be valid, finalizes with a new ECDSA key and
// checks the certificate and the order. It returns the DER chain.
func dnsE2EIssue(ctx context.Context, t *testing.T, inst *instance.Instance, ops e2eOps, names []string, typ string,
	present dnsE2EPresenter) [][]byte {
	t.Helper()
	o := dnsE2EAuthorize(ctx, t, ops, names, typ, present)
	for _, u := range o.authzs {
		if a := dnsE2ESettle(ctx, t, ops, u); a.status != "valid" {
			t.Fatalf("authorization for %s is %s: %v", a.identifier, a.status, a.problem)
		}
	}
	der, err := ops.finalize(ctx, o.finalize, e2eCSR(t, e2eLeafKey(t, false), names))
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	e2eCheckIssued(t, inst, e2eCase{names: names, challenge: typ}, der)
	e2eCheckOrder(ctx, t, inst, o.uri, "", "")
	return der
}

// dnsE2EWantInvalid waits for the order's authorizations to be validated
// and wants each invalid, its challenge carrying the problem wantType with
// the detail wantDetail.
func dnsE2EWantInvalid(ctx context.Context, t *testing.T, ops e2eOps, o e2eOrder, wantType, wantDetail string) {
	t.Helper()
	for _, u := range o.authzs {
		a := dnsE2ESettle(ctx, t, ops, u)
		var p *acme.Error
		if !errors.As(a.problem, &p) {
			t.Errorf("authorization for %s is %s with problem %v, want invalid with %s %q", a.identifier, a.status, a.problem, wantType, wantDetail)
			continue
		}
		if a.status != "invalid" || p.ProblemType != wantType || p.Detail != wantDetail {
			t.Errorf("authorization for %s is %s with %s %q, want invalid with %s %q",
				a.identifier, a.status, p.ProblemType, p.Detail, wantType, wantDetail)
		}
	}
}

// dnsE2ESettle polls an authorization with a short backoff until its
// validation is over and returns it. Unlike e2ePollAuthz it returns
// invalid authorizations too.
func dnsE2ESettle(ctx context.Context, t *testing.T, ops e2eOps, url string) e2eAuthz {
	t.Helper()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		a, err := ops.authz(ctx, url)
		if err != nil {
			t.Fatalf("polling %s: %v", url, err)
		}
		if a.status != "pending" && a.status != "processing" {
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatalf("authorization for %s still %s: %v", a.identifier, a.status, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// dnsE2EAnswers asks the DNS server at addr (UDP, retried over TCP when
// truncated) for name's records of type qtype: TXT values (strings joined)
// or A addresses.
func dnsE2EAnswers(t *testing.T, addr, name string, qtype uint16) []string {
	t.Helper()
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	var r *dns.Msg
	var err error
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 5 * time.Second}
		if r, _, err = c.ExchangeContext(t.Context(), m, addr); err != nil || !r.Truncated {
			break
		}
	}
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", dns.TypeToString[qtype], name, addr, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("query %s %s at %s: %s", dns.TypeToString[qtype], name, addr, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.TXT:
			out = append(out, strings.Join(rr.Txt, ""))
		case *dns.A:
			out = append(out, rr.A.String())
		}
	}
	return out
}

// dnsE2EPort is the port of a "host:port" address.
func dnsE2EPort(t *testing.T, addr string) int {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return a.Port
}
