package challengeval

import (
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

const (
	testAccount = "https://ca.test/acme/acct/1"
	otherAcct   = "https://ca.test/acme/acct/2"
)

// caaZone holds one scenario per name; see TestCheckCAA.
func caaZone(t *testing.T) *testZone {
	z := newZone(t,
		`permit.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`forbid.test. 60 IN CAA 0 issue "ca.example"`,
		`semicolon.test. 60 IN CAA 0 issue ";"`,
		`emptyval.test. 60 IN CAA 0 issue ""`,
		`wild.test. 60 IN CAA 0 issue ";"`,
		`wild.test. 60 IN CAA 0 issuewild "letsencrypt.org"`,
		`wildonly.test. 60 IN CAA 0 issuewild ";"`,
		`critical.test. 60 IN CAA 128 tbs "unknown"`,
		`critical.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`bit1.test. 60 IN CAA 1 tbs "unknown"`,
		`bit1.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`noncritical.test. 60 IN CAA 0 tbs "unknown"`,
		`critiodef.test. 60 IN CAA 128 iodef "mailto:security@critiodef.test"`,
		`critiodef.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`mixedcase.test. 60 IN CAA 0 IsSuE "letsencrypt.org"`,
		`account.test. 60 IN CAA 0 issue "letsencrypt.org; accounturi=`+testAccount+`"`,
		`methods.test. 60 IN CAA 0 issue "letsencrypt.org; validationmethods=dns-01,http-01"`,
		`badmethods.test. 60 IN CAA 0 issue "letsencrypt.org; validationmethods=dns_01,http-01"`,
		`unknownmethod.test. 60 IN CAA 0 issue "letsencrypt.org; validationmethods=email-reply-00,tls-alpn-01"`,
		`bound.test. 60 IN CAA 0 issue "letsencrypt.org; accounturi=`+otherAcct+`"`,
		`bound.test. 60 IN CAA 0 issue "letsencrypt.org; accounturi=`+testAccount+`; validationmethods=dns-01"`,
		`several.test. 60 IN CAA 0 issue "ca.example"`,
		`several.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`malformed.test. 60 IN CAA 0 issue "letsencrypt.org; noequals"`,
		`spaces.test. 60 IN CAA 0 issue "  letsencrypt.org ; accounturi = `+testAccount+` "`,
		`pebble.test. 60 IN CAA 0 issue "pebble.letsencrypt.org"`,
		`cname.test. 60 IN CNAME target.example.`,
		`target.example. 60 IN CAA 0 issue "ca.example"`,
		`cnameok.test. 60 IN CNAME target2.example.`,
		`target2.example. 60 IN CAA 0 issue "letsencrypt.org"`,
		`present.sf.test. 60 IN CAA 0 issue "letsencrypt.org"`,
		`big.test. 60 IN CAA 0 issue "letsencrypt.org"`,
	)
	z.rcodes["servfail.test."] = dns.RcodeServerFailure
	z.rcodes["sf.test."] = dns.RcodeServerFailure
	z.rcodes["refused.test."] = dns.RcodeRefused
	z.truncAll["big.test."] = true
	return z
}

func TestCheckCAA(t *testing.T) {
	v := newValidator(t, Config{Resolvers: []string{startDNS(t, caaZone(t))}})
	forbidden := func(ident, at string) string {
		return "While processing CAA for " + ident + ": CAA record for " + at + " prevents issuance"
	}
	tests := []struct {
		name       string
		domain     string
		wildcard   bool
		account    string
		method     string // default http-01
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "no CAA anywhere", domain: "nothing.test"},
		{name: "issue names the CA", domain: "permit.test"},
		{name: "issue names another CA", domain: "forbid.test", wantType: acme.CAA, wantDetail: forbidden("forbid.test", "forbid.test")},
		{name: "tree climbing to the parent", domain: "a.b.forbid.test", wantType: acme.CAA, wantDetail: forbidden("a.b.forbid.test", "forbid.test")},
		{name: "tree climbing finds a permitting parent", domain: "a.b.permit.test"},
		{name: "issue \";\" forbids", domain: "semicolon.test", wantType: acme.CAA, wantDetail: forbidden("semicolon.test", "semicolon.test")},
		{name: "empty issuer value forbids", domain: "emptyval.test", wantType: acme.CAA, wantDetail: forbidden("emptyval.test", "emptyval.test")},
		{name: "issuewild ignored for a non-wildcard", domain: "wild.test", wantType: acme.CAA, wantDetail: forbidden("wild.test", "wild.test")},
		{name: "issuewild used for a wildcard", domain: "wild.test", wildcard: true},
		{name: "\"*.\" prefix means wildcard", domain: "*.wild.test"},
		{name: "only issuewild permits a non-wildcard", domain: "wildonly.test"},
		{name: "issuewild \";\" forbids a wildcard", domain: "wildonly.test", wildcard: true, wantType: acme.CAA, wantDetail: forbidden("*.wildonly.test", "wildonly.test")},
		{name: "issue applies to a wildcard without issuewild", domain: "permit.test", wildcard: true},
		{name: "issue forbids a wildcard without issuewild", domain: "forbid.test", wildcard: true, wantType: acme.CAA, wantDetail: forbidden("*.forbid.test", "forbid.test")},
		{name: "unknown critical property forbids", domain: "critical.test", wantType: acme.CAA, wantDetail: forbidden("critical.test", "critical.test")},
		{name: "flag bit 1 counts as critical", domain: "bit1.test", wantType: acme.CAA, wantDetail: forbidden("bit1.test", "bit1.test")},
		{name: "unknown non-critical property ignored", domain: "noncritical.test"},
		{name: "critical iodef is recognized", domain: "critiodef.test"},
		{name: "tag case ignored", domain: "mixedcase.test"},
		{name: "accounturi match", domain: "account.test", account: testAccount},
		{name: "accounturi mismatch", domain: "account.test", account: otherAcct, wantType: acme.CAA, wantDetail: forbidden("account.test", "account.test")},
		{name: "accounturi without an account", domain: "account.test", wantType: acme.CAA, wantDetail: forbidden("account.test", "account.test")},
		{name: "validationmethods match", domain: "methods.test", method: acme.ChallengeDNS01},
		{name: "validationmethods second entry", domain: "methods.test", method: acme.ChallengeHTTP01},
		{name: "validationmethods mismatch", domain: "methods.test", method: acme.ChallengeTLSALPN01, wantType: acme.CAA, wantDetail: forbidden("methods.test", "methods.test")},
		{name: "validationmethods malformed entry voids the record", domain: "badmethods.test", wantType: acme.CAA, wantDetail: forbidden("badmethods.test", "badmethods.test")},
		{name: "validationmethods unknown entry skipped", domain: "unknownmethod.test", method: acme.ChallengeTLSALPN01},
		{name: "accounturi and validationmethods both match", domain: "bound.test", account: testAccount, method: acme.ChallengeDNS01},
		{name: "accounturi matches but method does not", domain: "bound.test", account: testAccount, wantType: acme.CAA, wantDetail: forbidden("bound.test", "bound.test")},
		{name: "one of several issue records", domain: "several.test"},
		{name: "malformed parameters authorize no one", domain: "malformed.test", wantType: acme.CAA, wantDetail: forbidden("malformed.test", "malformed.test")},
		{name: "whitespace around parts", domain: "spaces.test", account: testAccount},
		{name: "other CA's identity", domain: "pebble.test", wantType: acme.CAA, wantDetail: forbidden("pebble.test", "pebble.test")},
		{name: "CNAME on the way, forbidding target", domain: "cname.test", wantType: acme.CAA, wantDetail: forbidden("cname.test", "cname.test")},
		{name: "CNAME on the way, permitting target", domain: "cnameok.test"},
		{name: "SERVFAIL", domain: "servfail.test", wantType: acme.DNS,
			wantDetail: "While processing CAA for servfail.test: DNS problem: SERVFAIL looking up CAA for servfail.test - the domain's nameservers may be malfunctioning"},
		{name: "SERVFAIL at a parent before any record", domain: "x.sf.test", wantType: acme.DNS,
			wantDetail: "While processing CAA for x.sf.test: DNS problem: SERVFAIL looking up CAA for sf.test - the domain's nameservers may be malfunctioning"},
		{name: "SERVFAIL above the relevant RRset is ignored", domain: "present.sf.test"},
		{name: "REFUSED means no records", domain: "refused.test"},
		{name: "truncated even over TCP", domain: "big.test", wantType: acme.DNS,
			wantDetail: "While processing CAA for big.test: DNS problem: response was truncated looking up CAA for big.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = acme.ChallengeHTTP01
			}
			err := v.CheckCAA(t.Context(), acme.Identifier{Type: acme.TypeDNS, Value: tt.domain}, tt.wildcard, tt.account, method)
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}

func TestCheckCAAConfig(t *testing.T) {
	addr := startDNS(t, caaZone(t))
	yes := true
	tests := []struct {
		name       string
		cfg        Config
		ident      acme.Identifier
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "several identities: the second matches",
			cfg:   Config{CAAIdentities: []string{"letsencrypt.org", "Pebble.LetsEncrypt.org."}},
			ident: acme.Identifier{Type: acme.TypeDNS, Value: "pebble.test"}},
		{name: "several identities: none matches",
			cfg:   Config{CAAIdentities: []string{"pebble.letsencrypt.org", "ca.test"}},
			ident: acme.Identifier{Type: acme.TypeDNS, Value: "permit.test"}, wantType: acme.CAA,
			wantDetail: "While processing CAA for permit.test: CAA record for permit.test prevents issuance"},
		{name: "SkipCAA", cfg: Config{SkipCAA: true}, ident: acme.Identifier{Type: acme.TypeDNS, Value: "forbid.test"}},
		{name: "AlwaysValid", cfg: Config{AlwaysValid: true}, ident: acme.Identifier{Type: acme.TypeDNS, Value: "forbid.test"}},
		{name: "AlwaysValid rule", cfg: Config{Rules: []Rule{{Pattern: "*.test", AlwaysValid: &yes}}},
			ident: acme.Identifier{Type: acme.TypeDNS, Value: "forbid.test"}},
		{name: "IP identifiers have no CAA", ident: acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Resolvers = []string{addr}
			v := newValidator(t, tt.cfg)
			checkProblem(t, v.CheckCAA(t.Context(), tt.ident, false, "", acme.ChallengeDNS01), tt.wantType, tt.wantDetail)
		})
	}
}

// TestValidateChecksCAA: CAA runs after a successful validation only, and
// its failure is the validation's result.
func TestValidateChecksCAA(t *testing.T) {
	z := caaZone(t)
	for _, name := range []string{"forbid.test", "permit.test", "wild.test", "account.test", "servfail.test"} {
		rr, err := dns.NewRR("_acme-challenge." + name + ` 60 IN TXT "` + digest(testKeyAuthz) + `"`)
		if err != nil {
			t.Fatal(err)
		}
		z.records[rr.Header().Name] = append(z.records[rr.Header().Name], rr)
	}
	v := newValidator(t, Config{Resolvers: []string{startDNS(t, z)}})
	tests := []struct {
		name       string
		req        Request
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "valid and permitted", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "permit.test"}}},
		{name: "valid but forbidden", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "forbid.test"}},
			wantType: acme.CAA, wantDetail: "While processing CAA for forbid.test: CAA record for forbid.test prevents issuance"},
		{name: "wildcard authz uses issuewild", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "wild.test"}, Wildcard: true}},
		{name: "account URI reaches CAA", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "account.test"}, AccountURI: testAccount}},
		{name: "CAA look-up failure", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "servfail.test"}},
			wantType: acme.DNS, wantDetail: "While processing CAA for servfail.test: DNS problem: SERVFAIL looking up CAA for servfail.test - the domain's nameservers may be malfunctioning"},
		{name: "failed validation skips CAA", req: Request{Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "semicolon.test"}},
			wantType: acme.DNS, wantDetail: "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.semicolon.test - check that a DNS record exists for this domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Type, tt.req.KeyAuthorization = acme.ChallengeDNS01, testKeyAuthz
			checkProblem(t, validate(t, v, tt.req), tt.wantType, tt.wantDetail)
		})
	}
	if q := z.seen(); slices.Contains(q, "udp CAA semicolon.test.") {
		t.Errorf("CAA was checked after a failed validation; queries: %q", q)
	}
}

func TestRecheckError(t *testing.T) {
	dnsID := func(v string) acme.Identifier { return acme.Identifier{Type: acme.TypeDNS, Value: v} }
	forbidA := acme.New(acme.CAA, "While processing CAA for a.test: CAA record for a.test prevents issuance")
	servfailB := acme.New(acme.DNS, "While processing CAA for *.b.test: DNS problem: SERVFAIL looking up CAA for b.test - the domain's nameservers may be malfunctioning")
	forbidC := acme.New(acme.CAA, "While processing CAA for c.test: CAA record for test prevents issuance")
	tests := []struct {
		name       string
		in         []acme.SubError
		wantDetail string   // "" means nil
		wantSubs   []string // sub-problem details, all type caa
	}{
		{name: "none", in: nil},
		{name: "only successes", in: []acme.SubError{{Identifier: dnsID("a.test")}}},
		{name: "one failure", in: []acme.SubError{{Identifier: dnsID("ok.test")}, {Identifier: dnsID("a.test"), Err: forbidA}},
			wantDetail: "rechecking caa: While processing CAA for a.test: CAA record for a.test prevents issuance"},
		{name: "a dns failure becomes caa", in: []acme.SubError{{Identifier: dnsID("*.b.test"), Err: servfailB}},
			wantDetail: "rechecking caa: " + servfailB.Detail},
		{name: "three failures", in: []acme.SubError{
			{Identifier: dnsID("a.test"), Err: forbidA}, {Identifier: dnsID("*.b.test"), Err: servfailB}, {Identifier: dnsID("c.test"), Err: forbidC}},
			wantDetail: `Rechecking CAA for "a.test" and 2 more identifiers failed. Refer to sub-problems for more information`,
			wantSubs:   []string{"rechecking caa: " + forbidA.Detail, "rechecking caa: " + servfailB.Detail, "rechecking caa: " + forbidC.Detail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RecheckError(tt.in)
			if tt.wantDetail == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			checkProblem(t, err, acme.CAA, tt.wantDetail)
			e, _ := acme.As(err)
			if len(e.Sub) != len(tt.wantSubs) {
				t.Fatalf("got %d sub-problems, want %d", len(e.Sub), len(tt.wantSubs))
			}
			for i, s := range e.Sub {
				checkProblem(t, s.Err, acme.CAA, tt.wantSubs[i])
			}
		})
	}
}
