package instance_test

import (
	"slices"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
)

// dnsE2ESecret is a TSIG secret ("0123456789abcdef0123456789abcdef").
const dnsE2ESecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// TestDNSE2ECertManagerRFC2136 is a full DNS-01 issuance where every TXT
// record arrives only through RFC 2136: cert-manager v1.21.2's rfc2136
// provider, called as its controller calls it (zone from the SOA walk,
// Present, the propagation check with --dns01-recursive-nameservers-only,
// CleanUp), updates fakeca's DNS server, and x/crypto/acme drives the
// order. Each case runs its own CA, whose DNS server has the case's key.
func TestDNSE2ECertManagerRFC2136(t *testing.T) {
	t.Parallel()
	// The second order puts two TXT values at one name, so CleanUp must
	// delete single records (class NONE), not the RRset.
	issue := [][]string{{"www.example.test"}, {"*.example.test", "example.test"}}
	sha256Key := &dnsserver.TSIGKey{Name: "cert-manager.", Algorithm: "hmac-sha256", Secret: dnsE2ESecret}
	const wrongSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="
	tests := []struct {
		name          string
		serverKey     *dnsserver.TSIGKey // nil: the server accepts unsigned updates
		alg, key, sec string             // the Issuer's tsigAlgorithm, tsigKeyName, secret
		orders        [][]string         // issued one after the other
		// below, if set, is a name under the challenge name that the right
		// key adds first: the challenge name then exists without records
		// (NODATA, not NXDOMAIN).
		below          string
		wantPresentErr string // cert-manager's error; then validation must fail
		wantType       string // the dns-01 problem after a failed Present
		wantDetail     string
	}{
		{name: "hmac-sha256", serverKey: sha256Key, alg: "HMACSHA256", key: "cert-manager", sec: dnsE2ESecret, orders: issue},
		{name: "no TSIG", orders: issue},
		{name: "default algorithm hmac-md5", serverKey: &dnsserver.TSIGKey{Name: "cert-manager.", Algorithm: "hmac-md5", Secret: dnsE2ESecret},
			key: "cert-manager", sec: dnsE2ESecret, orders: issue},
		{name: "wrong TSIG secret", serverKey: sha256Key, alg: "HMACSHA256", key: "cert-manager", sec: wrongSecret,
			orders: [][]string{{"www.example.test"}}, wantPresentErr: "DNS update failed: dns: bad authentication",
			wantType:   dnsE2EDNSProblem,
			wantDetail: "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.test - check that a DNS record exists for this domain"},
		{name: "wrong TSIG secret, challenge name exists", serverKey: sha256Key, alg: "HMACSHA256", key: "cert-manager", sec: wrongSecret,
			orders: [][]string{{"www.example.test"}}, below: "_other._acme-challenge.www.example.test.",
			wantPresentErr: "DNS update failed: dns: bad authentication",
			wantType:       dnsE2EUnauthorized, wantDetail: "No TXT record found at _acme-challenge.www.example.test"},
	}
	var subs []e2eSubtest
	for _, tt := range tests {
		subs = append(subs, e2eSubtest{tt.name, func(t *testing.T) {
			cfg := dnsE2EConfig("example.test")
			if tt.serverKey != nil {
				cfg.TSIG = []dnsserver.TSIGKey{*tt.serverKey}
			}
			inst, err := dnsE2EStart(t, cfg, challengeval.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.below != "" {
				right := dnsE2ECertManagerAt(t, inst.DNS().Addr(), tt.alg, tt.key, dnsE2ESecret, "")
				if err := right.provider.Present("", tt.below, "example.test.", "unrelated"); err != nil {
					t.Fatalf("Present %s with the right secret: %v", tt.below, err)
				}
			}
			cm := dnsE2ECertManagerAt(t, inst.DNS().Addr(), tt.alg, tt.key, tt.sec, tt.wantPresentErr)
			ctx, ops := e2eContext(t), e2eXCryptoOps(t, inst)
			for _, names := range tt.orders {
				if tt.wantPresentErr == "" {
					dnsE2EIssue(ctx, t, inst, ops, names, e2eDNS01, cm.present)
					continue
				}
				o := dnsE2EAuthorize(ctx, t, ops, names, e2eDNS01, cm.present)
				dnsE2EWantInvalid(ctx, t, ops, o, tt.wantType, tt.wantDetail)
			}
			cm.cleanUp(t)
		}})
	}
	e2eRunConcurrently(t, subs)
}

// dnsE2ECertManager is cert-manager's DNS-01 solver for one Issuer: its
// rfc2136 provider and the recursive nameserver it checks propagation with.
type dnsE2ECertManager struct {
	ns             string
	provider       *rfc2136.DNSProvider
	wantPresentErr string // Present's expected error; "" for success

	presented []dnsE2ERecord // what CleanUp must remove
}

// dnsE2ECertManagerAt is cert-manager's solver for an Issuer with
// `rfc2136: {nameserver: ns, tsigAlgorithm: alg, tsigKeyName: key}` and the
// TSIG secret sec, using ns as its only recursive nameserver. Present
// must fail with wantPresentErr, or succeed when it is "".
func dnsE2ECertManagerAt(t *testing.T, ns, alg, key, sec, wantPresentErr string) *dnsE2ECertManager {
	t.Helper()
	p, err := rfc2136.NewDNSProviderCredentials(ns, alg, key, sec)
	if err != nil {
		t.Fatal(err)
	}
	return &dnsE2ECertManager{ns: ns, provider: p, wantPresentErr: wantPresentErr}
}

// dnsE2ERecord is one TXT record presented by cert-manager.
type dnsE2ERecord struct{ fqdn, zone, value string }

// present finds the zone with cert-manager's SOA walk and presents the TXT
// record; after a successful Present, cert-manager's propagation check
// must pass at once. Not safe for concurrent use.
func (cm *dnsE2ECertManager) present(t *testing.T, identifier, _, value string) {
	t.Helper()
	fqdn := "_acme-challenge." + dns.Fqdn(identifier)
	zone, err := util.FindZoneByFqdn(t.Context(), fqdn, []string{cm.ns})
	if err != nil || zone != "example.test." {
		t.Fatalf("FindZoneByFqdn(%s) = %q, %v; want example.test.", fqdn, zone, err)
	}
	err = cm.provider.Present(identifier, fqdn, zone, value)
	if cm.wantPresentErr != "" {
		if err == nil || err.Error() != cm.wantPresentErr {
			t.Fatalf("Present %s: %v, want %q", fqdn, err, cm.wantPresentErr)
		}
		if got := dnsE2EAnswers(t, cm.ns, fqdn, dns.TypeTXT); len(got) != 0 {
			t.Errorf("TXT at %s after a failed Present: %q", fqdn, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("Present %s: %v", fqdn, err)
	}
	cm.presented = append(cm.presented, dnsE2ERecord{fqdn, zone, value})
	if ok, err := util.PreCheckDNS(t.Context(), fqdn, value, []string{cm.ns}, false); !ok || err != nil {
		t.Errorf("propagation check for %s = %t, %v; want true", fqdn, ok, err)
	}
}

// cleanUp removes the presented records one by one with cert-manager's
// CleanUp; after each, the DNS server must still answer exactly the
// records not yet removed at that name, and nothing in the end.
func (cm *dnsE2ECertManager) cleanUp(t *testing.T) {
	t.Helper()
	for i, r := range cm.presented {
		if err := cm.provider.CleanUp("", r.fqdn, r.zone, r.value); err != nil {
			t.Errorf("CleanUp %s: %v", r.fqdn, err)
		}
		var want []string
		for _, rest := range cm.presented[i+1:] {
			if rest.fqdn == r.fqdn {
				want = append(want, rest.value)
			}
		}
		got := dnsE2EAnswers(t, cm.ns, r.fqdn, dns.TypeTXT)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("TXT at %s after CleanUp of %q: %q, want %q", r.fqdn, r.value, got, want)
		}
	}
}
