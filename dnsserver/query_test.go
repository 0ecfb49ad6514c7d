package dnsserver

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// seedQueryData fills the records the query tests ask about.
func seedQueryData(t *testing.T, r *Records) {
	t.Helper()
	steps := []error{
		r.AddA("www.example.test", "192.0.2.1"),
		r.AddAAAA("www.example.test", "2001:db8::1"),
		r.SetTXT("www.example.test", "hello"),
		r.AddCAA("www.example.test", CAAPolicy{Tag: "issue", Value: "letsencrypt.org"}),
		r.SetCNAME("alias.example.test", "www.example.test"),
		r.SetCNAME("dangling.example.test", "gone.example.test"),
		r.SetCNAME("loop1.example.test", "loop2.example.test"),
		r.SetCNAME("loop2.example.test", "loop1.example.test"),
		r.SetTXT("deep.a.b.example.test", "x"),
		r.SetServFail("broken.example.test"),
		r.AddA("foo.other.org", "198.51.100.7"),
		r.Add(mustRR(t, "mail.example.test. 300 IN MX 10 mx.example.test.")),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("seed step %d: %v", i, err)
		}
	}
}

// queryCase is one question about the data seedQueryData adds.
type queryCase struct {
	name       string
	qname      string
	qtype      uint16
	qclass     uint16 // default IN
	rcode      int
	aa         bool
	answer, ns []string
}

// queryCases covers every record type, NXDOMAIN versus NODATA, CNAMEs,
// SERVFAIL, nested zones and names outside the zones.
func queryCases() []queryCase {
	const soaNeg = "example.test. 1 IN SOA ns1.example.test. hostmaster.example.test. 12 3600 600 86400 1"
	return []queryCase{
		{name: "SOA at the apex is in Answer", qname: "example.test.", qtype: dns.TypeSOA, aa: true,
			answer: []string{"example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 12 3600 600 86400 1"}},
		{name: "names keep the client's case", qname: "EXAMPLE.Test.", qtype: dns.TypeNS, aa: true,
			answer: []string{"EXAMPLE.Test. 60 IN NS ns1.example.test."}},
		{name: "A record", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example.test. 0 IN A 192.0.2.1"}},
		{name: "AAAA record", qname: "www.example.test.", qtype: dns.TypeAAAA, aa: true,
			answer: []string{"www.example.test. 0 IN AAAA 2001:db8::1"}},
		{name: "TXT record", qname: "www.example.test.", qtype: dns.TypeTXT, aa: true,
			answer: []string{`www.example.test. 0 IN TXT "hello"`}},
		{name: "CAA record", qname: "www.example.test.", qtype: dns.TypeCAA, aa: true,
			answer: []string{`www.example.test. 0 IN CAA 0 issue "letsencrypt.org"`}},
		{name: "any other type added", qname: "mail.example.test.", qtype: dns.TypeMX, aa: true,
			answer: []string{"mail.example.test. 300 IN MX 10 mx.example.test."}},
		{name: "default A for a name without records", qname: "nope.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"nope.example.test. 0 IN A 127.0.0.1"}},
		{name: "default AAAA", qname: "nope.example.test.", qtype: dns.TypeAAAA, aa: true,
			answer: []string{"nope.example.test. 0 IN AAAA ::1"}},
		{name: "NXDOMAIN with the SOA in Authority", qname: "nope.example.test.", qtype: dns.TypeTXT, aa: true,
			rcode: dns.RcodeNameError, ns: []string{soaNeg}},
		{name: "NODATA for an existing name", qname: "www.example.test.", qtype: dns.TypeMX, aa: true, ns: []string{soaNeg}},
		{name: "NODATA for SOA below the apex", qname: "www.example.test.", qtype: dns.TypeSOA, aa: true, ns: []string{soaNeg}},
		{name: "NODATA for an empty non-terminal", qname: "b.example.test.", qtype: dns.TypeTXT, aa: true, ns: []string{soaNeg}},
		{name: "CNAME is followed", qname: "alias.example.test.", qtype: dns.TypeA, aa: true,
			answer: []string{"alias.example.test. 0 IN CNAME www.example.test.", "www.example.test. 0 IN A 192.0.2.1"}},
		{name: "CNAME query returns the CNAME", qname: "alias.example.test.", qtype: dns.TypeCNAME, aa: true,
			answer: []string{"alias.example.test. 0 IN CNAME www.example.test."}},
		{name: "CNAME to a missing name", qname: "dangling.example.test.", qtype: dns.TypeTXT, aa: true, rcode: dns.RcodeNameError,
			answer: []string{"dangling.example.test. 0 IN CNAME gone.example.test."}, ns: []string{soaNeg}},
		{name: "CNAME loop stops", qname: "loop1.example.test.", qtype: dns.TypeTXT, aa: true,
			answer: []string{"loop1.example.test. 0 IN CNAME loop2.example.test.", "loop2.example.test. 0 IN CNAME loop1.example.test."},
			ns:     []string{soaNeg}},
		{name: "SERVFAIL overrides", qname: "broken.example.test.", qtype: dns.TypeA, aa: true, rcode: dns.RcodeServerFailure},
		{name: "other zone is separate", qname: "example.com.", qtype: dns.TypeSOA, aa: true,
			answer: []string{"example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 1"}},
		{name: "parent zone test. answers outside example.test", qname: "x.test.", qtype: dns.TypeTXT, aa: true,
			rcode: dns.RcodeNameError, ns: []string{"test. 1 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 1"}},
		{name: "outside the zones: API records, not authoritative", qname: "foo.other.org.", qtype: dns.TypeA,
			answer: []string{"foo.other.org. 0 IN A 198.51.100.7"}},
		{name: "outside the zones: challtestsrv's empty answer", qname: "foo.other.org.", qtype: dns.TypeTXT,
			ns: []string{"challtestsrv.invalid. 0 IN SOA ns.challtestsrv.invalid. master.challtestsrv.invalid. 1 1 1 1 1"}},
		{name: "outside the zones: default A", qname: "anything.invalid.", qtype: dns.TypeA,
			answer: []string{"anything.invalid. 0 IN A 127.0.0.1"}},
		{name: "class CH is refused", qname: "version.bind.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS, rcode: dns.RcodeRefused},
		{name: "zone transfer is refused", qname: "example.test.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
}

func TestQuery(t *testing.T) {
	s, _ := testServer(t, nil)
	seedQueryData(t, s.Records())
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range queryCases() {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				m := question(tt.qname, tt.qtype)
				if tt.qclass != 0 {
					m.Question[0].Qclass = tt.qclass
				}
				r := exchange(t, s.Addr(), network, m)
				if r.Rcode != tt.rcode || r.Authoritative != tt.aa {
					t.Errorf("rcode %s aa %v, want %s aa %v", dns.RcodeToString[r.Rcode], r.Authoritative,
						dns.RcodeToString[tt.rcode], tt.aa)
				}
				if got, want := texts(r.Answer), append([]string{}, tt.answer...); !slices.Equal(got, want) {
					t.Errorf("answer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if got, want := texts(r.Ns), append([]string{}, tt.ns...); !slices.Equal(got, want) {
					t.Errorf("authority:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if r.Id != m.Id || !r.Response || r.Opcode != dns.OpcodeQuery {
					t.Errorf("header: id %d (want %d) qr %v opcode %d", r.Id, m.Id, r.Response, r.Opcode)
				}
			})
		}
	}
}

func TestQueryDefaultsOff(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.DefaultIPv4, c.DefaultIPv6 = "", "" })
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		r := exchange(t, s.Addr(), "udp", question("nope.example.test.", qtype))
		if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
			t.Errorf("%s: rcode %s answer %v, want NXDOMAIN and no answer", dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], r.Answer)
		}
	}
	if err := s.Records().SetDefaultIPv4("192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	r := exchange(t, s.Addr(), "udp", question("nope.example.test.", dns.TypeA))
	if got := texts(r.Answer); !slices.Equal(got, []string{"nope.example.test. 0 IN A 192.0.2.9"}) {
		t.Errorf("after SetDefaultIPv4: %v", got)
	}
}

// TestQueryChalltestsrvAnswers: with Config.ChalltestsrvAnswers, names
// under test. are not authoritative (NOERROR with the fake SOA, never
// NXDOMAIN) and types challtestsrv does not answer get NOTIMP.
func TestQueryChalltestsrvAnswers(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.ChalltestsrvAnswers, c.DefaultIPv6, c.Zones = true, "", nil })
	tests := []struct {
		qtype     uint16
		rcode     int
		answers   int
		authority string
	}{
		{dns.TypeA, dns.RcodeSuccess, 1, ""},
		{dns.TypeAAAA, dns.RcodeSuccess, 0, "challtestsrv.invalid."},
		{dns.TypeTXT, dns.RcodeSuccess, 0, "challtestsrv.invalid."},
		{dns.TypeSOA, dns.RcodeNotImplemented, 0, ""},
		{dns.TypeMX, dns.RcodeNotImplemented, 0, ""},
		{dns.TypeANY, dns.RcodeNotImplemented, 0, ""},
	}
	for _, tt := range tests {
		r := exchange(t, s.Addr(), "udp", question("nope.example.test.", tt.qtype))
		var authority string
		if len(r.Ns) == 1 {
			authority = r.Ns[0].Header().Name
		}
		if r.Rcode != tt.rcode || len(r.Answer) != tt.answers || authority != tt.authority || r.Authoritative {
			t.Errorf("%s: %s, %d answers, authority %q, aa %v", dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), authority, r.Authoritative)
		}
	}
}

func TestQueryTruncation(t *testing.T) {
	s, _ := testServer(t, nil)
	for i := range 15 {
		if err := s.Records().SetTXT("big.example.test", strings.Repeat(string(rune('a'+i)), 200)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		network   string
		edns      uint16
		truncated bool
	}{
		{name: "UDP without EDNS is truncated at 512 bytes", network: "udp", truncated: true},
		{name: "UDP with a 4096-byte EDNS buffer fits", network: "udp", edns: 4096},
		{name: "TCP fits", network: "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := question("big.example.test.", dns.TypeTXT)
			if tt.edns != 0 {
				m.SetEdns0(tt.edns, false)
			}
			c := &dns.Client{Net: tt.network, UDPSize: 65535}
			r, _, err := c.Exchange(m, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated != tt.truncated || (!tt.truncated && len(r.Answer) != 15) {
				t.Errorf("TC %v with %d answers, want TC %v", r.Truncated, len(r.Answer), tt.truncated)
			}
			if tt.edns != 0 && r.IsEdns0() == nil {
				t.Error("no OPT in the reply to an EDNS query")
			}
		})
	}
}

func TestQueryBadMessages(t *testing.T) {
	s, _ := testServer(t, nil)
	two := question("a.example.test.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := question("example.test.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	badVers := question("www.example.test.", dns.TypeA)
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	tests := []struct {
		name  string
		m     *dns.Msg
		rcode int
	}{
		{name: "two questions", m: two, rcode: dns.RcodeFormatError},
		{name: "NOTIFY is not implemented", m: notify, rcode: dns.RcodeNotImplemented},
		{name: "EDNS version 1", m: badVers, rcode: dns.RcodeBadVers},
		{name: "meta type query", m: question("x.example.test.", dns.TypeTSIG), rcode: dns.RcodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, s.Addr(), "tcp", tt.m)
			if r.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
		})
	}
}
