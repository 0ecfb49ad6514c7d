package challengeval

import (
	"testing"

	"github.com/fakeca/fakeca/acme"
)

// persistZone serves one dns-persist-01 scenario per name.
func persistZone(t *testing.T) *testZone {
	rec := func(name, value string) string {
		return "_validation-persist." + name + `. 60 IN TXT "` + value + `"`
	}
	const acct = "letsencrypt.org; accounturi=" + testAccount
	return newZone(t,
		rec("ok.test", acct),
		rec("normalized.test", "  LetsEncrypt.ORG. ; AccountURI="+testAccount),
		rec("wild.test", acct+"; policy=wildcard"),
		rec("wildcase.test", acct+"; Policy=WildCard"),
		rec("mismatch.test", "letsencrypt.org; accounturi="+otherAcct),
		rec("expired.test", acct+"; persistUntil=999999999"),
		rec("future.test", acct+"; persistUntil=2000000000"),
		rec("otherca.test", "ca.example; accounturi="+testAccount),
		rec("othercabad.test", "ca.example; nonsense"),
		rec("badtime.test", acct+"; persistUntil=soon"),
		rec("noaccount.test", "letsencrypt.org; policy=wildcard"),
		rec("dup.test", acct+"; accounturi="+testAccount),
		rec("trailing.test", acct+";"),
		rec("notagvalue.test", "letsencrypt.org; accounturi"),
		rec("emptytag.test", acct+"; =x"),
		rec("emptyaccount.test", "letsencrypt.org; accounturi="),
		rec("badvalue.test", acct+"; x=a b"),
		rec("unknowntag.test", acct+"; future=thing"),
		rec("recover.test", acct+"; persistUntil=soon"),
		rec("recover.test", acct),
		rec("twoerrors.test", "letsencrypt.org; accounturi="+otherAcct),
		rec("twoerrors.test", acct+"; persistUntil=999999999"),
		rec("pebble.test", "pebble.letsencrypt.org; accounturi="+testAccount),
		`_validation-persist.notxt.test. 60 IN A 127.0.0.1`,
	)
}

func TestDNSPersist01(t *testing.T) {
	addr := startDNS(t, persistZone(t))
	const check = `Checking DNS-PERSIST-01 challenge TXT record with issuer-domain-name "letsencrypt.org": `
	const parse = `Parsing DNS-PERSIST-01 challenge TXT record with issuer-domain-name "letsencrypt.org": `
	tests := []struct {
		name       string
		cfg        Config
		domain     string
		wildcard   bool
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "valid", domain: "ok.test"},
		{name: "issuer and tags normalized", domain: "normalized.test"},
		{name: "wildcard with policy=wildcard", domain: "wild.test", wildcard: true},
		{name: "policy value case ignored", domain: "wildcase.test", wildcard: true},
		{name: "\"*.\" prefix means wildcard", domain: "*.wild.test"},
		{name: "policy=wildcard also covers the name itself", domain: "wild.test"},
		{name: "persistUntil in the future", domain: "future.test"},
		{name: "unknown tags ignored", domain: "unknowntag.test"},
		{name: "a good record after a bad one", domain: "recover.test"},
		{name: "several identities", cfg: Config{CAAIdentities: []string{"letsencrypt.org", "pebble.letsencrypt.org"}}, domain: "pebble.test"},
		{name: "wildcard without policy", domain: "ok.test", wildcard: true, wantType: acme.Unauthorized,
			wantDetail: check + `policy mismatch: expected "wildcard", got ""`},
		{name: "accounturi mismatch", domain: "mismatch.test", wantType: acme.Unauthorized,
			wantDetail: check + `accounturi mismatch: expected "` + testAccount + `", got "` + otherAcct + `"`},
		{name: "persistUntil passed", domain: "expired.test", wantType: acme.Unauthorized,
			wantDetail: check + "validation time 2001-09-09T01:46:40Z is after persistUntil 2001-09-09T01:46:39Z"},
		{name: "two authorization errors joined", domain: "twoerrors.test", wantType: acme.Unauthorized,
			wantDetail: check + `accounturi mismatch: expected "` + testAccount + `", got "` + otherAcct + `"; ` +
				check + "validation time 2001-09-09T01:46:40Z is after persistUntil 2001-09-09T01:46:39Z"},
		{name: "another CA's record", domain: "otherca.test", wantType: acme.Unauthorized,
			wantDetail: "No valid TXT record found for DNS-PERSIST-01 challenge"},
		{name: "another CA's malformed record", domain: "othercabad.test", wantType: acme.Unauthorized,
			wantDetail: "No valid TXT record found for DNS-PERSIST-01 challenge"},
		{name: "other CA's identity not configured", domain: "pebble.test", wantType: acme.Unauthorized,
			wantDetail: "No valid TXT record found for DNS-PERSIST-01 challenge"},
		{name: "malformed persistUntil", domain: "badtime.test", wantType: acme.Malformed,
			wantDetail: parse + `malformed persistUntil timestamp "soon"`},
		{name: "missing accounturi", domain: "noaccount.test", wantType: acme.Malformed,
			wantDetail: parse + "missing mandatory accounturi parameter"},
		{name: "duplicate parameter", domain: "dup.test", wantType: acme.Malformed,
			wantDetail: parse + `duplicate parameter "accounturi"`},
		{name: "trailing semicolon", domain: "trailing.test", wantType: acme.Malformed,
			wantDetail: parse + "empty parameter or trailing semicolon provided"},
		{name: "parameter without =", domain: "notagvalue.test", wantType: acme.Malformed,
			wantDetail: parse + `malformed parameter "accounturi" should be tag=value pair`},
		{name: "empty tag", domain: "emptytag.test", wantType: acme.Malformed,
			wantDetail: parse + `malformed parameter "=x", empty tag`},
		{name: "empty accounturi", domain: "emptyaccount.test", wantType: acme.Malformed,
			wantDetail: parse + "empty value provided for mandatory accounturi"},
		{name: "space in a value", domain: "badvalue.test", wantType: acme.Malformed,
			wantDetail: parse + `malformed value "a b" for tag "x"`},
		{name: "no TXT record", domain: "notxt.test", wantType: acme.Unauthorized,
			wantDetail: "No TXT record found for DNS-PERSIST-01 challenge"},
		{name: "NXDOMAIN", domain: "nx.test", wantType: acme.DNS,
			wantDetail: "Retrieving TXT records for DNS-PERSIST-01 challenge: DNS problem: NXDOMAIN looking up TXT for _validation-persist.nx.test - check that a DNS record exists for this domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Resolvers, tt.cfg.SkipCAA = []string{addr}, true
			v := newValidator(t, tt.cfg)
			err := validate(t, v, Request{Type: acme.ChallengeDNSPersist01, AccountURI: testAccount, Wildcard: tt.wildcard,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: tt.domain}})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}

func TestDNSPersist01IPIdentifier(t *testing.T) {
	v := newValidator(t, Config{Resolvers: []string{"127.0.0.1:1"}})
	err := validate(t, v, Request{Type: acme.ChallengeDNSPersist01, AccountURI: testAccount,
		Identifier: acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"}})
	checkProblem(t, err, acme.Malformed, "Identifier type for DNS-PERSIST-01 challenge was not DNS")
}
