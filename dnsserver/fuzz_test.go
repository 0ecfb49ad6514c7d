package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// errorCounter is a slog handler that counts ERROR records (a recovered
// panic logs one).
type errorCounter struct{ n *atomic.Int32 }

func (h errorCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h errorCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h errorCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorCounter) WithGroup(string) slog.Handler      { return h }

// serveWire runs raw bytes through answerWire (dns.Server's steps, as
// DNS over HTTPS takes them) as if they came over UDP and checks the
// reply. It returns the packed reply, nil for no reply.
func serveWire(t *testing.T, s *Server, b []byte) []byte {
	out, err := s.answerWire(b, inbound{udp: true})
	if errors.Is(err, errNotAnswered) {
		return nil
	}
	if err != nil {
		t.Fatalf("packing the reply failed: %v", err)
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(out); err != nil {
		t.Fatalf("the reply does not unpack: %v", err)
	}
	if id := binary.BigEndian.Uint16(b); resp.Id != id || !resp.Response {
		t.Fatalf("reply header: id %d (request %d), QR %v", resp.Id, id, resp.Response)
	}
	return out
}

// fuzzServers builds (without starting) a server that accepts unsigned
// updates and one that requires TSIG key "k.".
func fuzzServers(t testing.TB, now time.Time, errs *atomic.Int32) []*Server {
	var out []*Server
	for _, keys := range [][]TSIGKey{nil, {{Name: "k.", Algorithm: "hmac-sha256", Secret: testSecret}}} {
		cfg := DefaultConfig()
		cfg.TSIG = keys
		s, err := New(cfg, Deps{Clock: clocktesting.NewFakePassiveClock(now), Logger: slog.New(errorCounter{errs})})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Records().SetTXT("a.test", "v")
		_ = s.Records().SetCNAME("c.test", "a.test")
		out = append(out, s)
	}
	return out
}

// fuzzSeeds are packed messages covering every path of the handler; the
// signed one is signed at now (miekg/dns also checks TSIG time against the
// wall clock, so now must be close to it).
func fuzzSeeds(t testing.TB, now time.Time) [][]byte {
	var msgs []*dns.Msg
	q := new(dns.Msg).SetQuestion("a.test.", dns.TypeTXT)
	msgs = append(msgs, q, new(dns.Msg).SetQuestion("c.test.", dns.TypeA), new(dns.Msg).SetQuestion("test.", dns.TypeSOA))
	e := new(dns.Msg).SetQuestion("nope.test.", dns.TypeAAAA)
	e.SetEdns0(4096, true)
	msgs = append(msgs, e)
	txt, _ := dns.NewRR(`a.test. 60 IN TXT "w"`)
	for _, build := range []func(m *dns.Msg){
		func(m *dns.Msg) { m.Insert([]dns.RR{txt}) },
		func(m *dns.Msg) { m.Remove([]dns.RR{txt}) },
		func(m *dns.Msg) { m.RemoveRRset([]dns.RR{txt}) },
		func(m *dns.Msg) { m.RemoveName([]dns.RR{txt}) },
		func(m *dns.Msg) { m.Used([]dns.RR{txt}); m.NameNotUsed([]dns.RR{txt}); m.Insert([]dns.RR{txt}) },
	} {
		m := new(dns.Msg).SetUpdate("test.")
		build(m)
		msgs = append(msgs, m)
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	signed := new(dns.Msg).SetUpdate("test.")
	signed.Insert([]dns.RR{txt})
	signed.SetTsig("k.", dns.HmacSHA256, 300, now.Unix())
	b, _, err := dns.TsigGenerate(signed, testSecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, b, []byte{0, 1, 2}, make([]byte, 12), []byte("\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
}

// FuzzServeDNS feeds arbitrary bytes through the DNS message handler: it
// must never panic (a recovered panic logs an ERROR, which fails the
// input), and every reply must pack and unpack. Without -fuzz it runs the
// seed corpus as a normal test.
func FuzzServeDNS(f *testing.F) {
	now := clock.RealClock{}.Now()
	for _, seed := range fuzzSeeds(f, now) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var errs atomic.Int32
		for _, s := range fuzzServers(t, now, &errs) {
			serveWire(t, s, b)
		}
		if n := errs.Load(); n != 0 {
			t.Fatalf("%d ERROR log records (a recovered panic?) for input %x", n, b)
		}
	})
}

// TestSeedsAnswered checks that the seed corpus reaches the handler (so
// the fuzz target exercises it) and that the signed seed verifies.
func TestSeedsAnswered(t *testing.T) {
	var errs atomic.Int32
	now := clock.RealClock{}.Now()
	servers := fuzzServers(t, now, &errs)
	seeds := fuzzSeeds(t, now)
	signed := seeds[len(seeds)-4]
	out := serveWire(t, servers[1], signed)
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil || r.IsTsig().Error != 0 {
		t.Errorf("signed seed: %v %v", r, err)
	}
	if got := servers[1].Records().Get("a.test", dns.TypeTXT); len(got) != 2 {
		t.Errorf("signed update did not apply: %v", got)
	}
}

// TestMalformedOverTheWire sends broken messages over real sockets and
// checks the server answers FORMERR (or nothing) and keeps serving.
func TestMalformedOverTheWire(t *testing.T) {
	s, _ := testServer(t, nil)
	headerOnly := []byte{0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00} // claims a question it lacks
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			conn, err := net.Dial(network, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := &dns.Conn{Conn: conn}
			for _, raw := range [][]byte{{1, 2, 3}, headerOnly} {
				if _, err := c.Write(raw); err != nil {
					t.Fatal(err)
				}
			}
			r, err := c.ReadMsg()
			if err != nil || r.Id != 0xabcd || r.Rcode != dns.RcodeFormatError {
				t.Fatalf("reply to a truncated message: %v, %v; want FORMERR for id 0xabcd", r, err)
			}
			if network == "tcp" {
				// dns.Server closes a TCP connection after a broken message; reconnect.
				if conn, err = net.Dial(network, s.Addr()); err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				c = &dns.Conn{Conn: conn}
			}
			if err := c.WriteMsg(question("example.test.", dns.TypeSOA)); err != nil {
				t.Fatal(err)
			}
			if r, err := c.ReadMsg(); err != nil || len(r.Answer) != 1 {
				t.Fatalf("after malformed input: %v, %v", r, err)
			}
		})
	}
}
