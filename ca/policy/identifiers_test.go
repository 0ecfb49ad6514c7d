package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

func TestCanonical(t *testing.T) {
	in := []acme.Identifier{
		ip("2001:DB8::1"), dns("WWW.Example.com"), {Type: "email", Value: "A@b"},
		dns("example.com"), ip("10.0.0.1"), dns("www.example.com"), ip("10.0.0.1"),
	}
	orig := slices.Clone(in)
	want := []acme.Identifier{
		dns("example.com"), dns("www.example.com"), ip("10.0.0.1"), ip("2001:db8::1"),
		{Type: "email", Value: "a@b"},
	}
	if got := Canonical(in); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !slices.Equal(in, orig) {
		t.Fatal("Canonical modified its input")
	}
	if got := Canonical(nil); len(got) != 0 {
		t.Fatalf("Canonical(nil) = %v", got)
	}
}

const cannot = `Cannot issue for "`

// TestIdentifierRules is the golden table for every identifier reason: one
// failing example each, under the default and the strict policy.
func TestIdentifierRules(t *testing.T) {
	l63 := strings.Repeat("a", 63)
	long254 := l63 + "." + l63 + "." + l63 + "." + strings.Repeat("b", 58) + ".com"
	tests := []struct {
		name   string
		strict bool
		id     acme.Identifier
		typ    acme.ErrorType
		detail string
	}{
		{"empty DNS", false, dns(""), acme.RejectedIdentifier, cannot + `": Identifier value (name) is empty`},
		{"empty IP", false, ip(""), acme.RejectedIdentifier, cannot + `": Identifier value (name) is empty`},
		{"underscore", false, dns("exa_mple.com"), acme.RejectedIdentifier, cannot + `exa_mple.com": Domain name contains an invalid character`},
		{"unicode", false, dns("bücher.com"), acme.RejectedIdentifier, cannot + `bücher.com": Domain name contains an invalid character`},
		{"upper case", false, dns("Example.com"), acme.RejectedIdentifier, cannot + `Example.com": Domain name contains an invalid character`},
		{"leading hyphen", false, dns("-example.com"), acme.RejectedIdentifier, cannot + `-example.com": Domain name contains an invalid character`},
		{"trailing hyphen", false, dns("example-.com"), acme.RejectedIdentifier, cannot + `example-.com": Domain name contains an invalid character`},
		{"254 bytes", false, dns(long254), acme.RejectedIdentifier, cannot + long254 + `": Domain name is longer than 253 bytes`},
		{"IPv4 as DNS", false, dns("8.8.8.8"), acme.RejectedIdentifier, cannot + `8.8.8.8": Identifier type is DNS but value is an IP address`},
		{"trailing dot", false, dns("example.com."), acme.RejectedIdentifier, cannot + `example.com.": Domain name ends in a dot`},
		{"11 labels", false, dns("a.b.c.d.e.f.g.h.i.j.com"), acme.RejectedIdentifier, cannot + `a.b.c.d.e.f.g.h.i.j.com": Domain name has more than 10 labels (parts)`},
		{"one label", false, dns("localhost"), acme.RejectedIdentifier, cannot + `localhost": Domain name needs at least one dot`},
		{"two dots", false, dns("example..com"), acme.RejectedIdentifier, cannot + `example..com": Domain name can not have two dots in a row`},
		{"leading dot", false, dns(".example.com"), acme.RejectedIdentifier, cannot + `.example.com": Domain name can not have two dots in a row`},
		{"64-byte label", false, dns(l63 + "a.com"), acme.RejectedIdentifier, cannot + l63 + `a.com": Domain has a label (component between dots) longer than 63 bytes`},
		{"bad punycode", false, dns("xn--zz.com"), acme.RejectedIdentifier, cannot + `xn--zz.com": Domain name contains malformed punycode`},
		{"punycode not NFC", false, dns("xn--109-3veba6djs1bfxlfmx6c9g.com"), acme.RejectedIdentifier, cannot + `xn--109-3veba6djs1bfxlfmx6c9g.com": Domain name contains malformed punycode`},
		{"R-LDH", false, dns("ab--cd.example.com"), acme.RejectedIdentifier, cannot + `ab--cd.example.com": Domain name contains an invalid label in a reserved format (R-LDH: '??--')`},
		{"two wildcards", false, dns("*.*.example.com"), acme.RejectedIdentifier, cannot + `*.*.example.com": Domain name has more than one wildcard`},
		{"inner wildcard", false, dns("www.*.example.com"), acme.RejectedIdentifier, cannot + `www.*.example.com": Domain name contains an invalid wildcard. A wildcard is only permitted before the first dot in a domain name`},
		{"partial wildcard", false, dns("w*.example.com"), acme.RejectedIdentifier, cannot + `w*.example.com": Domain name contains an invalid wildcard. A wildcard is only permitted before the first dot in a domain name`},
		{"wildcard TLD", false, dns("*.com"), acme.RejectedIdentifier, cannot + `*.com": Domain name is a wildcard for an ICANN TLD`},
		{"wildcard eTLD", false, dns("*.co.uk"), acme.RejectedIdentifier, cannot + `*.co.uk": Domain name is a wildcard for an ICANN TLD`},
		{"wildcard special-use", false, dns("*.test"), acme.RejectedIdentifier, cannot + `*.test": Domain name is a wildcard for an ICANN TLD`},
		{"wildcard unknown TLD", false, dns("*.example.notatld"), acme.RejectedIdentifier, cannot + `*.example.notatld": Domain name does not end with a valid public suffix (TLD)`},
		{"wildcard bad base", false, dns("*.exa_mple.com"), acme.RejectedIdentifier, cannot + `*.exa_mple.com": Domain name contains an invalid character`},
		{"unknown TLD", false, dns("example.notatld"), acme.RejectedIdentifier, cannot + `example.notatld": Domain name does not end with a valid public suffix (TLD)`},
		{"ICANN TLD", false, dns("co.uk"), acme.RejectedIdentifier, cannot + `co.uk": Domain name is an ICANN TLD`},
		{"home.arpa is a TLD", false, dns("home.arpa"), acme.RejectedIdentifier, cannot + `home.arpa": Domain name is an ICANN TLD`},
		{"strict .test", true, dns("app.test"), acme.RejectedIdentifier, cannot + `app.test": Domain name does not end with a valid public suffix (TLD)`},
		{"strict .example", true, dns("www.example"), acme.RejectedIdentifier, cannot + `www.example": Domain name does not end with a valid public suffix (TLD)`},
		{"strict .invalid", true, dns("a.invalid"), acme.RejectedIdentifier, cannot + `a.invalid": Domain name does not end with a valid public suffix (TLD)`},
		{"strict .localhost", true, dns("app.localhost"), acme.RejectedIdentifier, cannot + `app.localhost": Domain name does not end with a valid public suffix (TLD)`},
		{"strict .internal", true, dns("svc.internal"), acme.RejectedIdentifier, cannot + `svc.internal": Domain name does not end with a valid public suffix (TLD)`},
		{"strict wildcard .test", true, dns("*.app.test"), acme.RejectedIdentifier, cannot + `*.app.test": Domain name does not end with a valid public suffix (TLD)`},
		{"unknown type", false, acme.Identifier{Type: "email", Value: "a@example.com"}, acme.UnsupportedIdentifier, cannot + `a@example.com": Invalid identifier type`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, Config{StrictPublicSuffix: tc.strict})
			e := wantProblem(t, p.CheckIdentifiers([]acme.Identifier{tc.id}), tc.typ, tc.detail)
			if len(e.Sub) != 0 {
				t.Errorf("one bad identifier got %d subproblems", len(e.Sub))
			}
		})
	}
}

func TestIPRules(t *testing.T) {
	const reserved = `": IP address is in a reserved address block: `
	tests := []struct {
		name   string
		strict bool
		value  string
		detail string // "" = accepted
	}{
		{"public IPv4", false, "8.8.8.8", ""},
		{"public IPv6", false, "2001:4860:4860::8888", ""},
		{"public IPv4 strict", true, "8.8.8.8", ""},
		{"loopback", false, "127.0.0.1", ""},
		{"loopback /8", false, "127.1.2.3", ""},
		{"IPv6 loopback", false, "::1", ""},
		{"RFC1918 10/8", false, "10.1.2.3", ""},
		{"RFC1918 172.16/12", false, "172.31.255.254", ""},
		{"RFC1918 192.168/16", false, "192.168.1.1", ""},
		{"strict loopback", true, "127.0.0.1", `127.0.0.1` + reserved + `[RFC1122], Section 3.2.1.3: Loopback`},
		{"strict IPv6 loopback", true, "::1", `::1` + reserved + `[RFC4291]: Loopback Address`},
		{"strict RFC1918", true, "10.1.2.3", `10.1.2.3` + reserved + `[RFC1918]: Private-Use`},
		{"strict 192.168", true, "192.168.1.1", `192.168.1.1` + reserved + `[RFC1918]: Private-Use`},
		{"leading zero", false, "010.0.0.1", `010.0.0.1": IP address is invalid`},
		{"IPv6 upper case", false, "2001:4860:4860::888A", `2001:4860:4860::888A": IP address is invalid`},
		{"IPv6 zeros not compressed", false, "2001:4860:0:0::8888", `2001:4860:0:0::8888": IP address is invalid`},
		{"IPv6 full form", false, "2001:4860:4860:0000:0000:0000:0000:8888", `2001:4860:4860:0000:0000:0000:0000:8888": IP address is invalid`},
		{"zone", false, "fe80::1%eth0", `fe80::1%eth0": IP address is invalid`},
		{"not an IP", false, "example.com", `example.com": IP address is invalid`},
		{"CIDR", false, "8.8.8.0/24", `8.8.8.0/24": IP address is invalid`},
		{"this network", false, "0.1.2.3", `0.1.2.3` + reserved + `[RFC791], Section 3.2: "This network"`},
		{"shared address space", false, "100.64.0.1", `100.64.0.1` + reserved + `[RFC6598]: Shared Address Space`},
		{"link local", false, "169.254.169.254", `169.254.169.254` + reserved + `[RFC3927]: Link Local`},
		{"first match wins", false, "192.0.0.9", `192.0.0.9` + reserved + `[RFC6890], Section 2.1: IETF Protocol Assignments`},
		{"TEST-NET-1", false, "192.0.2.1", `192.0.2.1` + reserved + `[RFC5737]: Documentation (TEST-NET-1)`},
		{"broadcast inside 240/4", false, "255.255.255.255", `255.255.255.255` + reserved + `[RFC1112], Section 4: Reserved`},
		{"multicast v4", false, "224.0.0.251", `224.0.0.251` + reserved + `[RFC3171]: Multicast Addresses`},
		{"IPv4-mapped", false, "::ffff:192.168.1.1", `::ffff:192.168.1.1` + reserved + `[RFC4291]: IPv4-mapped Address`},
		{"unspecified", false, "::", `::` + reserved + `[RFC4291]: Unspecified Address`},
		{"documentation v6", false, "2001:db8::1", `2001:db8::1` + reserved + `[RFC3849]: Documentation`},
		{"IETF protocol v6", false, "2001:1::1", `2001:1::1` + reserved + `[RFC2928]: IETF Protocol Assignments`},
		{"documentation 3fff", false, "3fff::1", `3fff::1` + reserved + `[RFC9637]: Documentation`},
		{"unique local", false, "fd00::1", `fd00::1` + reserved + `[RFC4193] [RFC8190]: Unique-Local`},
		{"link local v6", false, "fe80::1", `fe80::1` + reserved + `[RFC4291]: Link-Local Unicast`},
		{"multicast v6", false, "ff02::1", `ff02::1` + reserved + `[RFC4291]: Multicast Addresses`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, Config{StrictPublicSuffix: tc.strict})
			err := p.CheckIdentifiers([]acme.Identifier{ip(tc.value)})
			if tc.detail == "" {
				wantProblem(t, err, "", "")
				return
			}
			wantProblem(t, err, acme.RejectedIdentifier, cannot+tc.detail)
		})
	}
}

func TestSubproblemTypes(t *testing.T) {
	p := mustNew(t, Config{StrictPublicSuffix: true, Blocklist: []string{"blocked.com"}})
	tests := []struct {
		name string
		id   acme.Identifier
		typ  acme.ErrorType
	}{
		{"syntax is malformed", dns("exa_mple.com"), acme.Malformed},
		{"R-LDH is rejectedIdentifier", dns("ab--cd.com"), acme.RejectedIdentifier},
		{"reserved IP is rejectedIdentifier", ip("10.0.0.1"), acme.RejectedIdentifier},
		{"bad IP is malformed", ip("1.1.1.01"), acme.Malformed},
		{"unknown type is unsupportedIdentifier", acme.Identifier{Type: "x", Value: "y"}, acme.UnsupportedIdentifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := wantProblem(t, p.WellFormed([]acme.Identifier{dns("a_b.com"), tc.id}),
				acme.RejectedIdentifier, cannot+`a_b.com": Domain name contains an invalid character (and 1 more problems. Refer to sub-problems for more information.)`)
			if len(e.Sub) != 2 || e.Sub[1].Identifier != tc.id || e.Sub[1].Err.Type != tc.typ {
				t.Fatalf("subproblems %+v", e.Sub)
			}
		})
	}
}

func TestIdentifiersAccepted(t *testing.T) {
	l63 := strings.Repeat("a", 63)
	tests := []struct {
		name   string
		strict bool
		id     acme.Identifier
	}{
		{"plain", true, dns("example.com")},
		{"subdomain", true, dns("www.example.com")},
		{"eTLD+1", true, dns("example.co.uk")},
		{"digits and hyphens", true, dns("a-1.0-b.example.com")},
		{"valid punycode", true, dns("xn--bcher-kva.example.com")},
		{"punycode TLD", true, dns("example.xn--p1ai")},
		{"wildcard", true, dns("*.example.com")},
		{"private PSL section ignored", true, dns("blogspot.com")},
		{"under private suffix", true, dns("foo.blogspot.com")},
		{"10 labels", true, dns("a.b.c.d.e.f.g.h.i.com")},
		{"63-byte label", true, dns(l63 + ".com")},
		{"253 bytes", true, dns(l63 + "." + l63 + "." + l63 + "." + strings.Repeat("b", 57) + ".com")},
		{"under home.arpa even strict", true, dns("nas.home.arpa")},
		{".test", false, dns("app.test")},
		{".example", false, dns("www.example")},
		{".invalid", false, dns("a.invalid")},
		{".localhost", false, dns("app.localhost")},
		{".internal", false, dns("svc.internal")},
		{".home.arpa", false, dns("nas.home.arpa")},
		{"deep .test", false, dns("a.b.c.test")},
		{"wildcard .test", false, dns("*.app.test")},
		{"public IP", true, ip("1.1.1.1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, Config{StrictPublicSuffix: tc.strict})
			wantProblem(t, p.CheckIdentifiers([]acme.Identifier{tc.id}), "", "")
		})
	}
}

func TestMultipleProblems(t *testing.T) {
	p := mustNew(t, Config{})
	ids := Canonical([]acme.Identifier{dns("good.example.com"), dns("b_ad.com"), dns("*.com"), ip("192.0.2.1")})
	e := wantProblem(t, p.CheckIdentifiers(ids), acme.RejectedIdentifier,
		`Cannot issue for "*.com": Domain name is a wildcard for an ICANN TLD (and 2 more problems. Refer to sub-problems for more information.)`)
	want := []struct {
		id     acme.Identifier
		typ    acme.ErrorType
		detail string
	}{
		{dns("*.com"), acme.Malformed, "Domain name is a wildcard for an ICANN TLD"},
		{dns("b_ad.com"), acme.Malformed, "Domain name contains an invalid character"},
		{ip("192.0.2.1"), acme.RejectedIdentifier, "IP address is in a reserved address block: [RFC5737]: Documentation (TEST-NET-1)"},
	}
	if len(e.Sub) != len(want) {
		t.Fatalf("got %d subproblems, want %d: %+v", len(e.Sub), len(want), e.Sub)
	}
	for i, w := range want {
		s := e.Sub[i]
		if s.Identifier != w.id || s.Err.Type != w.typ || s.Err.Detail != w.detail {
			t.Errorf("sub[%d] = %v %s %q, want %v %s %q", i, s.Identifier, s.Err.Type, s.Err.Detail, w.id, w.typ, w.detail)
		}
	}
}

func TestBlocklist(t *testing.T) {
	p := mustNew(t, Config{Blocklist: []string{"Bank.Example.com", "*.evil.com", "*.corp.test"}})
	const forbidden = `": The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy`
	tests := []struct {
		name    string
		id      acme.Identifier
		blocked bool
	}{
		{"exact name", dns("bank.example.com"), true},
		{"wildcard covering an exact name", dns("*.example.com"), true},
		{"sibling of exact name", dns("www.example.com"), false},
		{"parent of exact name", dns("example.com"), false},
		{"child of exact name", dns("www.bank.example.com"), false},
		{"pattern apex", dns("evil.com"), true},
		{"pattern child", dns("www.evil.com"), true},
		{"pattern grandchild", dns("a.b.evil.com"), true},
		{"pattern wildcard", dns("*.evil.com"), true},
		{"pattern lookalike", dns("notevil.com"), false},
		{"pattern on special-use name", dns("api.corp.test"), true},
		{"IP never blocked", ip("8.8.8.8"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckIdentifiers([]acme.Identifier{tc.id})
			if !tc.blocked {
				wantProblem(t, err, "", "")
				return
			}
			wantProblem(t, err, acme.RejectedIdentifier, cannot+tc.id.Value+forbidden)
			if p.WellFormed([]acme.Identifier{tc.id}) != nil {
				t.Error("WellFormed applied the blocklist")
			}
		})
	}
}

func TestBlocklistAfterSyntax(t *testing.T) {
	// Boulder's WillingToIssue reports syntax problems alone when there are
	// any; blocklist hits appear only once every identifier is well formed.
	p := mustNew(t, Config{Blocklist: []string{"*.evil.com"}})
	ids := []acme.Identifier{dns("a.evil.com"), dns("b.evil.com"), dns("c_d.com")}
	wantProblem(t, p.CheckIdentifiers(ids), acme.RejectedIdentifier,
		cannot+`c_d.com": Domain name contains an invalid character`)
	e := wantProblem(t, p.CheckIdentifiers(ids[:2]), acme.RejectedIdentifier,
		cannot+`a.evil.com": The ACME server refuses to issue a certificate for this domain name, because it is forbidden by policy (and 1 more problems. Refer to sub-problems for more information.)`)
	if len(e.Sub) != 2 || e.Sub[1].Err.Type != acme.RejectedIdentifier {
		t.Fatalf("subproblems %+v", e.Sub)
	}
}

func TestZeroPolicy(t *testing.T) {
	var p Policy
	wantProblem(t, p.CheckIdentifiers([]acme.Identifier{dns("app.test"), ip("127.0.0.1")}), "", "")
}
