package dnsserver

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// testSecret is a TSIG secret for tests: "0123456789abcdef0123456789abcdef"
// in base64.
const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// testServer starts a Server on loopback ports with the zones example.test
// and example.com (plus test.), after edit adjusts the config. The fake
// clock starts at the real time because clients sign TSIG with it.
func testServer(t *testing.T, edit func(*Config)) (*Server, *clocktesting.FakePassiveClock) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.ManagementListen = "127.0.0.1:0", ""
	cfg.Zones = []string{"example.test", "Example.COM."}
	if edit != nil {
		edit(&cfg)
	}
	clk := clocktesting.NewFakePassiveClock(clock.RealClock{}.Now())
	s, err := New(cfg, Deps{Clock: clk, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, clk
}

// exchange sends m over network ("udp" or "tcp") and fails the test on a
// transport error.
func exchange(t *testing.T, addr, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange over %s: %v", network, err)
	}
	return r
}

// question builds a query.
func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rrText is an RR's presentation form with single spaces.
func rrText(rr dns.RR) string { return strings.Join(strings.Fields(rr.String()), " ") }

// texts is rrText over a section.
func texts(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		out = append(out, rrText(rr))
	}
	return out
}

// mustRR parses one RR in presentation form.
func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return rr
}

// txtAt returns the TXT values the server answers for name.
func txtAt(t *testing.T, addr, name string) []string {
	t.Helper()
	r := exchange(t, addr, "udp", question(name, dns.TypeTXT))
	out := []string{}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// serial returns the zone's SOA serial as served.
func serial(t *testing.T, addr, zone string) uint32 {
	t.Helper()
	r := exchange(t, addr, "udp", question(zone, dns.TypeSOA))
	if len(r.Answer) != 1 {
		t.Fatalf("SOA %s: answer %v", zone, r.Answer)
	}
	return r.Answer[0].(*dns.SOA).Serial
}
