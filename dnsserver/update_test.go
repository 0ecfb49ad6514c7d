package dnsserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// updateMsg builds an UPDATE for zone; build adds prerequisites and
// changes with miekg/dns's helpers (the calls cert-manager makes).
func updateMsg(zone string, build func(m *dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	build(m)
	return m
}

// updateCase is one UPDATE sent to a zone where x.example.test holds the
// TXT values "one" and "two".
type updateCase struct {
	name    string
	zone    string // default example.test.
	build   func(t *testing.T, m *dns.Msg)
	rcode   int
	wantTXT []string // TXT values at x.example.test afterwards
	noBump  bool     // the SOA serial must not change
}

// updateCases covers RFC 2136: every change and prerequisite kind, and
// every error.
func updateCases() []updateCase {
	type rrs = []dns.RR
	return []updateCase{
		{name: "add a TXT record (cert-manager Present)", build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two", "three"}},
		{name: "adding a duplicate changes nothing", noBump: true, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `X.Example.Test. 0 IN TXT "one"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "delete one RR (class NONE, cert-manager CleanUp)", build: func(t *testing.T, m *dns.Msg) {
			m.Remove(rrs{mustRR(t, `x.example.test. 60 IN TXT "one"`)})
		}, wantTXT: []string{"two"}},
		{name: "delete a missing RR is a no-op", noBump: true, build: func(t *testing.T, m *dns.Msg) {
			m.Remove(rrs{mustRR(t, `x.example.test. 60 IN TXT "nine"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "delete the RRset (class ANY)", build: func(t *testing.T, m *dns.Msg) {
			m.RemoveRRset(rrs{mustRR(t, `x.example.test. 0 IN TXT "any"`)})
		}, wantTXT: []string{}},
		{name: "delete the name (ANY ANY)", build: func(t *testing.T, m *dns.Msg) {
			m.RemoveName(rrs{mustRR(t, `x.example.test. 0 IN TXT "any"`)})
		}, wantTXT: []string{}},
		{name: "prerequisite name in use holds", build: func(t *testing.T, m *dns.Msg) {
			m.NameUsed(rrs{mustRR(t, `x.example.test. 0 IN A 0.0.0.0`)})
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two", "three"}},
		{name: "prerequisite name in use fails", rcode: dns.RcodeNameError, build: func(t *testing.T, m *dns.Msg) {
			m.NameUsed(rrs{mustRR(t, `y.example.test. 0 IN A 0.0.0.0`)})
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "prerequisite name not in use fails", rcode: dns.RcodeYXDomain, build: func(t *testing.T, m *dns.Msg) {
			m.NameNotUsed(rrs{mustRR(t, `x.example.test. 0 IN A 0.0.0.0`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "prerequisite RRset exists fails", rcode: dns.RcodeNXRrset, build: func(t *testing.T, m *dns.Msg) {
			m.RRsetUsed(rrs{mustRR(t, `x.example.test. 0 IN MX 0 .`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "prerequisite RRset does not exist fails", rcode: dns.RcodeYXRrset, build: func(t *testing.T, m *dns.Msg) {
			m.RRsetNotUsed(rrs{mustRR(t, `x.example.test. 0 IN TXT "z"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "value-dependent prerequisite holds", build: func(t *testing.T, m *dns.Msg) {
			m.Used(rrs{mustRR(t, `x.example.test. 0 IN TXT "two"`), mustRR(t, `x.example.test. 0 IN TXT "one"`)})
			m.Remove(rrs{mustRR(t, `x.example.test. 0 IN TXT "one"`)})
		}, wantTXT: []string{"two"}},
		{name: "value-dependent prerequisite fails", rcode: dns.RcodeNXRrset, build: func(t *testing.T, m *dns.Msg) {
			m.Used(rrs{mustRR(t, `x.example.test. 0 IN TXT "two"`)})
			m.Remove(rrs{mustRR(t, `x.example.test. 0 IN TXT "one"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "zone not served is NOTAUTH", zone: "example.org.", rcode: dns.RcodeNotAuth, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.org. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "a subdomain of a zone is not a zone", zone: "sub.example.test.", rcode: dns.RcodeNotAuth, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.sub.example.test. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "record outside the zone is NOTZONE and nothing applies", rcode: dns.RcodeNotZone, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`), mustRR(t, `x.example.com. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "record in a child zone is NOTZONE", zone: "test.", rcode: dns.RcodeNotZone, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "adding a meta type is FORMERR", rcode: dns.RcodeFormatError, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN TXT "three"`), &dns.ANY{Hdr: dns.RR_Header{Name: "x.example.test.", Rrtype: dns.TypeANY, Class: dns.ClassINET}}})
		}, wantTXT: []string{"one", "two"}},
		{name: "delete with a TTL is FORMERR", rcode: dns.RcodeFormatError, build: func(t *testing.T, m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.TXT{Hdr: dns.RR_Header{Name: "x.example.test.", Rrtype: dns.TypeTXT, Class: dns.ClassNONE, Ttl: 60}, Txt: []string{"one"}})
		}, wantTXT: []string{"one", "two"}},
		{name: "zone section must be SOA", rcode: dns.RcodeFormatError, build: func(t *testing.T, m *dns.Msg) {
			m.Question[0].Qtype = dns.TypeA
		}, wantTXT: []string{"one", "two"}},
		{name: "CNAME where data exists is ignored", noBump: true, build: func(t *testing.T, m *dns.Msg) {
			m.Insert(rrs{mustRR(t, `x.example.test. 60 IN CNAME www.example.test.`)})
		}, wantTXT: []string{"one", "two"}},
		{name: "the apex SOA and NS cannot be deleted", noBump: true, zone: "example.test.", build: func(t *testing.T, m *dns.Msg) {
			m.RemoveRRset(rrs{mustRR(t, `example.test. 0 IN NS a.`), mustRR(t, `example.test. 0 IN SOA a. b. 1 1 1 1 1`)})
			m.Insert(rrs{mustRR(t, `example.test. 60 IN NS evil.example.org.`)})
		}, wantTXT: []string{"one", "two"}},
	}
}

func TestUpdate(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range updateCases() {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				s, _ := testServer(t, nil)
				if err := s.Records().SetTXT("x.example.test", "one"); err != nil {
					t.Fatal(err)
				}
				_ = s.Records().SetTXT("x.example.test", "two")
				before := serial(t, s.Addr(), "example.test.")
				zone := tt.zone
				if zone == "" {
					zone = "example.test."
				}
				r := exchange(t, s.Addr(), network, updateMsg(zone, func(m *dns.Msg) { tt.build(t, m) }))
				if r.Rcode != tt.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if got := txtAt(t, s.Addr(), "x.example.test."); !slices.Equal(got, tt.wantTXT) {
					t.Errorf("TXT afterwards %q, want %q", got, tt.wantTXT)
				}
				bumped := serial(t, s.Addr(), "example.test.") != before
				if want := tt.rcode == dns.RcodeSuccess && !tt.noBump; bumped != want {
					t.Errorf("serial bumped %v, want %v", bumped, want)
				}
				if soa := exchange(t, s.Addr(), "udp", question("example.test.", dns.TypeNS)); len(soa.Answer) != 1 {
					t.Errorf("apex NS: %v", soa.Answer)
				}
			})
		}
	}
}

func TestUpdateTSIG(t *testing.T) {
	keys := []TSIGKey{
		{Name: "sha1-key", Algorithm: "hmac-sha1", Secret: testSecret},
		{Name: "sha256-key.", Algorithm: "HMAC-SHA256", Secret: testSecret},
		{Name: "sha512-key.", Algorithm: "hmac-sha512.", Secret: testSecret},
	}
	s, clk := testServer(t, func(c *Config) { c.TSIG = keys })
	wrong := "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="
	tests := []struct {
		name       string
		key, alg   string
		secret     string
		skew       time.Duration
		unsigned   bool
		rcode      int
		tsigError  uint16
		clientErr  error // miekg/dns's client reports every signed NOTAUTH as ErrAuth
		wantChange bool
	}{
		{name: "hmac-sha1", key: "sha1-key.", alg: dns.HmacSHA1, secret: testSecret, wantChange: true},
		{name: "hmac-sha256", key: "sha256-key.", alg: dns.HmacSHA256, secret: testSecret, wantChange: true},
		{name: "hmac-sha512 with another key-name case", key: "SHA512-Key.", alg: dns.HmacSHA512, secret: testSecret, wantChange: true},
		{name: "unsigned is refused once keys exist", unsigned: true, rcode: dns.RcodeRefused},
		{name: "wrong secret is BADSIG", key: "sha256-key.", alg: dns.HmacSHA256, secret: wrong,
			rcode: dns.RcodeNotAuth, tsigError: dns.RcodeBadSig, clientErr: dns.ErrAuth},
		{name: "unknown key is BADKEY", key: "nobody.", alg: dns.HmacSHA256, secret: testSecret,
			rcode: dns.RcodeNotAuth, tsigError: dns.RcodeBadKey, clientErr: dns.ErrAuth},
		{name: "key used with another algorithm is BADKEY", key: "sha256-key.", alg: dns.HmacSHA512, secret: testSecret,
			rcode: dns.RcodeNotAuth, tsigError: dns.RcodeBadKey, clientErr: dns.ErrAuth},
		{name: "server clock an hour ahead is BADTIME", key: "sha256-key.", alg: dns.HmacSHA256, secret: testSecret, skew: time.Hour,
			rcode: dns.RcodeNotAuth, tsigError: dns.RcodeBadTime, clientErr: dns.ErrAuth},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				now := clk.Now()
				clk.SetTime(now.Add(tt.skew))
				defer clk.SetTime(now)
				host := "tsig-" + network + ".example.test."
				m := updateMsg("example.test.", func(m *dns.Msg) {
					m.Insert([]dns.RR{mustRR(t, host+` 60 IN TXT "v"`)})
				})
				c := &dns.Client{Net: network, Timeout: 5 * time.Second}
				if !tt.unsigned {
					m.SetTsig(tt.key, tt.alg, 300, now.Unix())
					c.TsigSecret = map[string]string{tt.key: tt.secret}
				}
				r, _, err := c.Exchange(m, s.Addr())
				if err != tt.clientErr {
					t.Fatalf("client error %v, want %v", err, tt.clientErr)
				}
				if r.Rcode != tt.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if sig := r.IsTsig(); (sig != nil) != !tt.unsigned || (sig != nil && sig.Error != tt.tsigError) {
					t.Errorf("reply TSIG %v, want error %s", sig, dns.RcodeToString[int(tt.tsigError)])
				}
				got := txtAt(t, s.Addr(), host)
				if changed := len(got) == 1; changed != tt.wantChange {
					t.Errorf("TXT afterwards %q, want change %v", got, tt.wantChange)
				}
				_ = s.Records().ClearTXT(host)
			})
		}
	}
}

func TestSignedQuery(t *testing.T) {
	s, _ := testServer(t, func(c *Config) {
		c.TSIG = []TSIGKey{{Name: "q.", Algorithm: "hmac-sha256", Secret: testSecret}}
	})
	for i := range 4 {
		_ = s.Records().SetTXT("big.example.test", strings.Repeat(string(rune('a'+i)), 100))
	}
	tests := []struct {
		name, network, qname string
		truncated            bool
		answers              int
	}{
		{name: "small answer over UDP", network: "udp", qname: "example.test.", answers: 1},
		{name: "large answer over UDP is truncated", network: "udp", qname: "big.example.test.", truncated: true},
		{name: "large answer over TCP", network: "tcp", qname: "big.example.test.", answers: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qtype := dns.TypeTXT
			if tt.qname == "example.test." {
				qtype = dns.TypeSOA
			}
			m := question(tt.qname, qtype)
			m.SetTsig("q.", dns.HmacSHA256, 300, s.clock.Now().Unix())
			c := &dns.Client{Net: tt.network, TsigSecret: map[string]string{"q.": testSecret}}
			r, _, err := c.Exchange(m, s.Addr())
			if err != nil {
				t.Fatalf("signed query: %v", err)
			}
			if r.IsTsig() == nil || r.Truncated != tt.truncated || len(r.Answer) != tt.answers {
				t.Errorf("reply TSIG %v TC %v answers %d, want signed, TC %v, %d answers", r.IsTsig() != nil, r.Truncated, len(r.Answer), tt.truncated, tt.answers)
			}
		})
	}
}

func TestUnsignedUpdateWithoutKeys(t *testing.T) {
	s, _ := testServer(t, nil)
	signed := updateMsg("example.test.", func(m *dns.Msg) { m.Insert([]dns.RR{mustRR(t, `a.example.test. 60 IN TXT "v"`)}) })
	signed.SetTsig("k.", dns.HmacSHA256, 300, s.clock.Now().Unix())
	c := &dns.Client{Net: "udp", TsigSecret: map[string]string{"k.": testSecret}}
	r, _, _ := c.Exchange(signed, s.Addr())
	if r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadKey {
		t.Errorf("signed update to a server without keys: %v, want NOTAUTH/BADKEY", r)
	}
	r = exchange(t, s.Addr(), "udp", updateMsg("example.test.", func(m *dns.Msg) {
		m.Insert([]dns.RR{mustRR(t, `a.example.test. 60 IN TXT "v"`)})
	}))
	if r.Rcode != dns.RcodeSuccess || !slices.Equal(txtAt(t, s.Addr(), "a.example.test."), []string{"v"}) {
		t.Errorf("unsigned update: rcode %s", dns.RcodeToString[r.Rcode])
	}
}
