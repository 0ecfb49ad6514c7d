package challengeval

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

func digest(keyAuthz string) string {
	sum := sha256.Sum256([]byte(keyAuthz))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestDNS01(t *testing.T) {
	good := digest(testKeyAuthz)
	long := strings.Repeat("x", 150)
	z := newZone(t,
		`_acme-challenge.ok.test. 60 IN TXT "`+good+`"`,
		`_acme-challenge.split.test. 60 IN TXT "`+good[:20]+`" "`+good[20:]+`"`,
		`_acme-challenge.many.test. 60 IN TXT "nope"`,
		`_acme-challenge.many.test. 60 IN TXT "`+good+`"`,
		`_acme-challenge.cname.test. 60 IN CNAME _acme-challenge.target.test.`,
		`_acme-challenge.target.test. 60 IN TXT "`+good+`"`,
		`_acme-challenge.wrong.test. 60 IN TXT "wrong-one"`,
		`_acme-challenge.wrong3.test. 60 IN TXT "first"`,
		`_acme-challenge.wrong3.test. 60 IN TXT "second"`,
		`_acme-challenge.wrong3.test. 60 IN TXT "third"`,
		`_acme-challenge.long.test. 60 IN TXT "`+long+`"`,
		`_acme-challenge.notxt.test. 60 IN A 127.0.0.1`,
		`_acme-challenge.big.test. 60 IN TXT "`+good+`"`,
	)
	z.rcodes["_acme-challenge.servfail.test."] = dns.RcodeServerFailure
	z.rcodes["_acme-challenge.refused.test."] = dns.RcodeRefused
	z.truncate["_acme-challenge.big.test."] = true
	v := newValidator(t, Config{Resolvers: []string{startDNS(t, z)}})

	tests := []struct {
		name, domain string
		wantType     acme.ErrorType
		wantDetail   string
	}{
		{name: "valid", domain: "ok.test"},
		{name: "wildcard prefix stripped", domain: "*.ok.test"},
		{name: "strings of one record are concatenated", domain: "split.test"},
		{name: "one matching record among several", domain: "many.test"},
		{name: "CNAME chain followed", domain: "cname.test"},
		{name: "truncated UDP answer retried over TCP", domain: "big.test"},
		{name: "NXDOMAIN", domain: "nx.test", wantType: acme.DNS,
			wantDetail: "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.nx.test - check that a DNS record exists for this domain"},
		{name: "SERVFAIL", domain: "servfail.test", wantType: acme.DNS,
			wantDetail: "DNS problem: SERVFAIL looking up TXT for _acme-challenge.servfail.test - the domain's nameservers may be malfunctioning"},
		{name: "REFUSED has no explanation", domain: "refused.test", wantType: acme.DNS,
			wantDetail: "DNS problem: REFUSED looking up TXT for _acme-challenge.refused.test"},
		{name: "no TXT record", domain: "notxt.test", wantType: acme.Unauthorized,
			wantDetail: "No TXT record found at _acme-challenge.notxt.test"},
		{name: "one wrong record", domain: "wrong.test", wantType: acme.Unauthorized,
			wantDetail: `Incorrect TXT record "wrong-one" found at _acme-challenge.wrong.test`},
		{name: "three wrong records", domain: "wrong3.test", wantType: acme.Unauthorized,
			wantDetail: `Incorrect TXT record "first" (and 2 more) found at _acme-challenge.wrong3.test`},
		{name: "long record cut to 100 bytes", domain: "long.test", wantType: acme.Unauthorized,
			wantDetail: `Incorrect TXT record "` + long[:100] + `..." found at _acme-challenge.long.test`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(t, v, Request{Type: acme.ChallengeDNS01, Token: testToken, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: tt.domain}})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
	if q := z.seen(); !slices.Contains(q, "tcp TXT _acme-challenge.big.test.") {
		t.Errorf("no TCP retry after truncation; queries: %q", q)
	}
}

func TestDNS01Failures(t *testing.T) {
	tests := []struct {
		name       string
		resolver   func(t *testing.T) string
		id         acme.Identifier
		wantType   acme.ErrorType
		wantDetail string
	}{
		{
			name: "query timed out",
			resolver: func(t *testing.T) string {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = pc.Close() })
				return pc.LocalAddr().String()
			},
			id:         acme.Identifier{Type: acme.TypeDNS, Value: "slow.test"},
			wantType:   acme.DNS,
			wantDetail: "DNS problem: query timed out looking up TXT for _acme-challenge.slow.test",
		},
		{
			name:       "IP identifier is malformed",
			resolver:   func(t *testing.T) string { return startDNS(t, newZone(t)) },
			id:         acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"},
			wantType:   acme.Malformed,
			wantDetail: "Identifier type for DNS was not itself DNS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newValidator(t, Config{Resolvers: []string{tt.resolver(t)}, LookupTimeout: 200 * time.Millisecond})
			err := validate(t, v, Request{Type: acme.ChallengeDNS01, Identifier: tt.id, KeyAuthorization: testKeyAuthz})
			checkProblem(t, err, tt.wantType, tt.wantDetail)
		})
	}
}

func TestDNS01ChasesCNAMEFromNonRecursiveServer(t *testing.T) {
	z := newZone(t,
		`_acme-challenge.a.test. 60 IN CNAME _acme-challenge.b.test.`,
		`_acme-challenge.b.test. 60 IN CNAME delegated.zone.test.`,
		`delegated.zone.test. 60 IN TXT "`+digest(testKeyAuthz)+`"`,
	)
	z.noRecurse = true
	v := newValidator(t, Config{SkipCAA: true, Resolvers: []string{startDNS(t, z)}})
	err := validate(t, v, Request{Type: acme.ChallengeDNS01, KeyAuthorization: testKeyAuthz,
		Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
	checkProblem(t, err, "", "")
	want := []string{"udp TXT _acme-challenge.a.test.", "udp TXT _acme-challenge.b.test.", "udp TXT delegated.zone.test."}
	if got := z.seen(); !slices.Equal(got, want) {
		t.Errorf("queries %q, want %q", got, want)
	}
}

func TestDNS01FallsBackToNextResolver(t *testing.T) {
	dead := closedPort(t) // UDP to a closed port: ICMP refused, a networking error
	z := newZone(t, `_acme-challenge.ok.test. 60 IN TXT "`+digest(testKeyAuthz)+`"`)
	v := newValidator(t, Config{Resolvers: []string{fmt.Sprintf("127.0.0.1:%d", dead), startDNS(t, z)}})
	err := validate(t, v, Request{Type: acme.ChallengeDNS01, KeyAuthorization: testKeyAuthz,
		Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "ok.test"}})
	checkProblem(t, err, "", "")
}

func TestLookupHost(t *testing.T) {
	z := newZone(t,
		`both.example. 60 IN A 192.0.2.1`,
		`both.example. 60 IN AAAA 2001:db8::1`,
		`alias.example. 60 IN CNAME both.example.`,
		`v4only.example. 60 IN A 127.0.0.2`,
		`empty.example. 60 IN TXT "no addresses here"`,
		`half.example. 60 IN AAAA ::1`,
	)
	z.rcodes["servfail.example."] = dns.RcodeServerFailure
	v := newValidator(t, Config{
		Resolvers: []string{startDNS(t, z)},
		HostOverrides: []HostOverride{
			{Pattern: "*.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
			{Pattern: "*.deep.test", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.3")}},
			{Pattern: "exact.deep.test", Addrs: []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.4")}},
			{Pattern: "both.example", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
		},
	})
	tests := []struct {
		name       string
		host       string
		want       []string
		wantDetail string
	}{
		{name: "IP literal", host: "192.0.2.9", want: []string{"192.0.2.9"}},
		{name: "wildcard override one level", host: "a.test", want: []string{"127.0.0.1"}},
		{name: "wildcard override any depth", host: "a.b.c.test", want: []string{"127.0.0.1"}},
		{name: "longer wildcard wins", host: "x.deep.test", want: []string{"127.0.0.3"}},
		{name: "exact wins over wildcard", host: "EXACT.deep.test.", want: []string{"::1", "127.0.0.4"}},
		{name: "exact override beats DNS", host: "both.example", want: []string{"10.0.0.1"}},
		{name: "wildcard does not match its suffix", host: "test", wantDetail: "DNS problem: NXDOMAIN looking up A for test - check that a DNS record exists for this domain; " +
			"DNS problem: NXDOMAIN looking up AAAA for test - check that a DNS record exists for this domain"},
		{name: "A and AAAA through CNAME", host: "alias.example", want: []string{"192.0.2.1", "2001:db8::1"}},
		{name: "only A", host: "v4only.example", want: []string{"127.0.0.2"}},
		{name: "only AAAA", host: "half.example", want: []string{"::1"}},
		{name: "NXDOMAIN for both", host: "nx.example", wantDetail: "DNS problem: NXDOMAIN looking up A for nx.example - check that a DNS record exists for this domain; " +
			"DNS problem: NXDOMAIN looking up AAAA for nx.example - check that a DNS record exists for this domain"},
		{name: "SERVFAIL for both", host: "servfail.example", wantDetail: "DNS problem: SERVFAIL looking up A for servfail.example - the domain's nameservers may be malfunctioning; " +
			"DNS problem: SERVFAIL looking up AAAA for servfail.example - the domain's nameservers may be malfunctioning"},
		{name: "no usable records", host: "empty.example", wantDetail: "no valid A records found for empty.example; no valid AAAA records found for empty.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs, err := v.LookupHost(t.Context(), tt.host)
			if tt.wantDetail != "" {
				checkProblem(t, err, acme.DNS, tt.wantDetail)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDNSTransportReasons(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"net timeout", &net.OpError{Op: "read", Err: errTimeout{}}, dnsTimeout},
		{"deadline", fmt.Errorf("exchange: %w", context.DeadlineExceeded), dnsTimeout},
		{"canceled", context.Canceled, dnsCanceled},
		{"socket error", &net.OpError{Op: "read", Err: fmt.Errorf("connection refused")}, dnsNetFailure},
		{"anything else", fmt.Errorf("dns: bad rdata"), dnsServerFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &dnsError{qtype: dns.TypeTXT, name: "x.test", err: tt.err}
			want := "DNS problem: " + tt.want + " looking up TXT for x.test"
			if e.Error() != want {
				t.Errorf("got %q, want %q", e.Error(), want)
			}
		})
	}
}
