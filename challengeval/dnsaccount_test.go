package challengeval

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

func TestDNSAccountLabel(t *testing.T) {
	tests := []struct {
		account, name, want string
	}{
		// The example of draft-ietf-acme-dns-account-label.
		{"https://example.com/acme/acct/ExampleAccount", "example.org", "_ujmmovf2vn55tgye._acme-challenge.example.org"},
		{"https://example.com/acme/acct/ExampleAccount", "*.example.org", "_ujmmovf2vn55tgye._acme-challenge.example.org"},
		// Computed independently (Python hashlib + base64.b32encode).
		{testAccount, "a.test.", "_chipdnrz6ovfpe6e._acme-challenge.a.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DNSAccountLabel(tt.account, tt.name); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDNSAccount01(t *testing.T) {
	good := digest(testKeyAuthz)
	ok := DNSAccountLabel(testAccount, "ok.test")
	z := newZone(t,
		ok+`. 60 IN TXT "`+good+`"`,
		DNSAccountLabel(testAccount, "wrong.test")+`. 60 IN TXT "nope"`,
		DNSAccountLabel(otherAcct, "other.test")+`. 60 IN TXT "`+good+`"`,
		DNSAccountLabel(testAccount, "other.test")+`. 60 IN A 127.0.0.1`,
		`_acme-challenge.plain.test. 60 IN TXT "`+good+`"`,
	)
	z.rcodes[dns.Fqdn(DNSAccountLabel(testAccount, "servfail.test"))] = dns.RcodeServerFailure
	v := newValidator(t, Config{Resolvers: []string{startDNS(t, z)}})
	tests := []struct {
		name       string
		id         acme.Identifier
		account    string
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "valid", id: acme.Identifier{Type: acme.TypeDNS, Value: "ok.test"}, account: testAccount},
		{name: "valid for a wildcard", id: acme.Identifier{Type: acme.TypeDNS, Value: "*.ok.test"}, account: testAccount},
		{name: "wrong record", id: acme.Identifier{Type: acme.TypeDNS, Value: "wrong.test"}, account: testAccount,
			wantType: acme.Unauthorized, wantDetail: `Incorrect TXT record "nope" found at ` + DNSAccountLabel(testAccount, "wrong.test")},
		{name: "record of another account", id: acme.Identifier{Type: acme.TypeDNS, Value: "other.test"}, account: testAccount,
			wantType: acme.Unauthorized, wantDetail: "No TXT record found at " + DNSAccountLabel(testAccount, "other.test")},
		{name: "dns-01 record does not count", id: acme.Identifier{Type: acme.TypeDNS, Value: "plain.test"}, account: testAccount,
			wantType: acme.DNS, wantDetail: "DNS problem: NXDOMAIN looking up TXT for " + DNSAccountLabel(testAccount, "plain.test") +
				" - check that a DNS record exists for this domain"},
		{name: "SERVFAIL", id: acme.Identifier{Type: acme.TypeDNS, Value: "servfail.test"}, account: testAccount,
			wantType: acme.DNS, wantDetail: "DNS problem: SERVFAIL looking up TXT for " + DNSAccountLabel(testAccount, "servfail.test") +
				" - the domain's nameservers may be malfunctioning"},
		{name: "IP identifier", id: acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"}, account: testAccount,
			wantType: acme.Malformed, wantDetail: "Identifier type for DNS was not itself DNS"},
		{name: "no account URI", id: acme.Identifier{Type: acme.TypeDNS, Value: "ok.test"},
			wantType: acme.ServerInternal, wantDetail: "accountURI must be provided for dns-account-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(t, v, Request{Type: acme.ChallengeDNSAccount01, Identifier: tt.id,
				KeyAuthorization: testKeyAuthz, AccountURI: tt.account})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}
