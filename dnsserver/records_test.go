package dnsserver

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

func newTestRecords() *Records {
	return newRecords([]string{"test.", "example.test."}, "127.0.0.1", "::1")
}

func TestRecordsAPI(t *testing.T) {
	tests := []struct {
		name    string
		do      func(r *Records) error
		host    string
		t       uint16
		want    []string
		wantErr string
	}{
		{name: "TXT values over 255 bytes are split", do: func(r *Records) error {
			return r.SetTXT("long.test", strings.Repeat("a", 300))
		}, host: "long.test", t: dns.TypeTXT, want: []string{`long.test. 0 IN TXT "` + strings.Repeat("a", 255) + `" "` + strings.Repeat("a", 45) + `"`}},
		{name: "TXT special characters survive", do: func(r *Records) error { return r.SetTXT("q.test", "a\"b\\c\x01") },
			host: "q.test", t: dns.TypeTXT, want: []string{`q.test. 0 IN TXT "a\"b\\c\001"`}},
		{name: "duplicates are one record", do: func(r *Records) error {
			return r.AddA("d.test", "192.0.2.1", "192.0.2.1")
		}, host: "d.test", t: dns.TypeA, want: []string{"d.test. 0 IN A 192.0.2.1"}},
		{name: "set-cname replaces", do: func(r *Records) error {
			_ = r.SetCNAME("c.test", "one.test")
			return r.SetCNAME("C.Test.", "two.test")
		}, host: "c.test", t: dns.TypeCNAME, want: []string{"c.test. 0 IN CNAME two.test."}},
		{name: "CAA flag", do: func(r *Records) error {
			return r.AddCAA("caa.test", CAAPolicy{Flag: 128, Tag: "tbs", Value: "x"})
		}, host: "caa.test", t: dns.TypeCAA, want: []string{`caa.test. 0 IN CAA 128 tbs "x"`}},
		{name: "Add any type", do: func(r *Records) error {
			return r.Add(mustRR(t, "_sip._tcp.example.test. 30 IN SRV 1 2 5060 sip.example.test."))
		}, host: "_sip._tcp.example.test", t: dns.TypeSRV, want: []string{"_sip._tcp.example.test. 30 IN SRV 1 2 5060 sip.example.test."}},
		{name: "Get ANY at the apex includes the synthesized records", do: func(r *Records) error {
			return r.SetTXT("example.test", "apex")
		}, host: "example.test", t: dns.TypeANY, want: []string{
			"example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2 3600 600 86400 1",
			"example.test. 60 IN NS ns1.example.test.", `example.test. 0 IN TXT "apex"`}},
		{name: "Add refuses SOA", do: func(r *Records) error { return r.Add(mustRR(t, "x.test. 60 IN SOA a. b. 1 1 1 1 1")) },
			wantErr: "record: type SOA cannot be added"},
		{name: "Add refuses the apex NS", do: func(r *Records) error { return r.Add(mustRR(t, "example.test. 60 IN NS a.")) },
			wantErr: "record: the apex NS record is synthesized and cannot be added"},
		{name: "Add refuses nil", do: func(r *Records) error { return r.Add(nil) }, wantErr: "record: must not be nil"},
		{name: "AAAA rejects IPv4", do: func(r *Records) error { return r.AddAAAA("x.test", "192.0.2.1") },
			wantErr: `addresses[0]: "192.0.2.1" is not an IPv6 address`},
		{name: "no addresses", do: func(r *Records) error { return r.AddA("x.test") }, wantErr: "addresses: must not be empty"},
		{name: "no CAA policies", do: func(r *Records) error { return r.AddCAA("x.test") }, wantErr: "policies: must not be empty"},
		{name: "bad CNAME target", do: func(r *Records) error { return r.SetCNAME("x.test", "") }, wantErr: "target: must not be empty"},
		{name: "bad host", do: func(r *Records) error { return r.ClearTXT("") }, wantErr: "host: must not be empty"},
		{name: "bad default IPv6", do: func(r *Records) error { return r.SetDefaultIPv6("1.2.3.4") },
			wantErr: `"1.2.3.4" is not an IPv6 address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRecords()
			err := tt.do(r)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(r.Get(tt.host, tt.t)); !slices.Equal(got, tt.want) {
				t.Errorf("Get:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRecordsGetReturnsCopies(t *testing.T) {
	r := newTestRecords()
	_ = r.SetTXT("x.test", "v")
	r.Get("x.test", dns.TypeTXT)[0].(*dns.TXT).Txt[0] = "changed"
	if got := r.Get("x.test", dns.TypeTXT)[0].(*dns.TXT).Txt[0]; got != "v" {
		t.Errorf("stored value changed through Get's result: %q", got)
	}
}

func TestRecordsEmptyNonTerminals(t *testing.T) {
	r := newTestRecords()
	b := r.zone("example.test.")
	_ = r.SetTXT("a.b.c.example.test", "v")
	_ = r.SetTXT("b.c.example.test", "w")
	check := func(when string, want map[string]bool) {
		t.Helper()
		for name, exists := range want {
			if got := b.exists(name); got != exists {
				t.Errorf("%s: exists(%s) = %v, want %v", when, name, got, exists)
			}
		}
	}
	check("after adds", map[string]bool{"c.example.test.": true, "b.c.example.test.": true, "a.b.c.example.test.": true, "x.example.test.": false})
	_ = r.ClearTXT("a.b.c.example.test")
	check("after one delete", map[string]bool{"c.example.test.": true, "a.b.c.example.test.": false})
	_ = r.ClearTXT("b.c.example.test")
	check("after both deletes", map[string]bool{"c.example.test.": false, "b.c.example.test.": false})
	if len(b.nodes) != 0 || len(b.below) != 0 {
		t.Errorf("leftovers: nodes %v below %v", b.nodes, b.below)
	}
}

// TestRecordsConcurrent hammers every bucket from several goroutines while
// queries and updates run; run it with -race.
func TestRecordsConcurrent(t *testing.T) {
	s, _ := testServer(t, nil)
	r := s.Records()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				host := fmt.Sprintf("h%d.%s", i%5, []string{"example.test", "example.com", "test", "other.org"}[w])
				_ = r.SetTXT(host, fmt.Sprint(i))
				_ = r.AddA(host, "192.0.2.1")
				_ = r.SetServFail(host)
				_ = r.ClearServFail(host)
				_ = r.SetDefaultIPv4(fmt.Sprintf("192.0.2.%d", i%200+1))
				s.records.resolve(host, dns.TypeTXT)
				r.Get(host, dns.TypeANY)
				_ = r.ClearTXT(host)
				s.update(updateMsg("example.test.", func(m *dns.Msg) {
					m.Insert([]dns.RR{mustRR(t, fmt.Sprintf(`u%d.example.test. 60 IN TXT "x"`, w))})
				}), "")
				s.history.DNS(host)
			}
		})
	}
	wg.Wait()
}
