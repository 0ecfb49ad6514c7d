package dnsserver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

func TestNewErrors(t *testing.T) {
	bad := DefaultConfig()
	bad.Zones = []string{"."}
	tests := []struct {
		name string
		cfg  Config
		deps Deps
		want string
	}{
		{name: "invalid config", cfg: bad, deps: Deps{Clock: clock.RealClock{}}, want: "dns.zones[0]: the root zone cannot be served"},
		{name: "zero config", deps: Deps{Clock: clock.RealClock{}}, want: "dns.listen: must not be empty"},
		{name: "no clock", cfg: DefaultConfig(), want: "dnsserver: Deps.Clock is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, tt.deps); err == nil || err.Error() != tt.want {
				t.Errorf("New error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.ManagementListen = "127.0.0.1:0" })
	host, port, _ := net.SplitHostPort(s.Addr())
	if host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q", s.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		if r := exchange(t, s.Addr(), network, question("test.", dns.TypeSOA)); len(r.Answer) != 1 {
			t.Errorf("%s: SOA answer %v", network, r.Answer)
		}
	}
	if got := s.Zones(); strings.Join(got, ",") != "example.com.,example.test.,test." {
		t.Errorf("Zones() = %v", got)
	}
	if s.ListenerAddr(ListenerManagement) == "" || s.ListenerAddr(ListenerHTTP01) != "" {
		t.Errorf("listener addresses %v", s.addrs)
	}
	if err := s.Start(t.Context()); err == nil || err.Error() != "dnsserver: already started" {
		t.Errorf("second Start: %v", err)
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	s, err := New(DefaultConfig(), Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	if s.Addr() != "" {
		t.Errorf("Addr before Start = %q", s.Addr())
	}
}

func TestShutdownReleasesPorts(t *testing.T) {
	s, _ := testServer(t, func(c *Config) { c.HTTP01Listen = "127.0.0.1:0" })
	dnsAddr, httpAddr := s.Addr(), s.ListenerAddr(ListenerHTTP01)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct{ network, addr string }{{"tcp", dnsAddr}, {"udp", dnsAddr}, {"tcp", httpAddr}} {
		if l.network == "udp" {
			pc, err := net.ListenPacket("udp", l.addr)
			if err != nil {
				t.Errorf("udp %s still bound: %v", l.addr, err)
				continue
			}
			_ = pc.Close()
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			t.Errorf("tcp %s still bound: %v", l.addr, err)
			continue
		}
		_ = ln.Close()
	}
}

func TestStartFailureLeavesNothingBound(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := DefaultConfig()
	cfg.Listen, cfg.ManagementListen, cfg.HTTP01Listen = "127.0.0.1:0", busy.Addr().String(), "127.0.0.1:0"
	s, err := New(cfg, Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "dnsserver: listen challtestsrv "+busy.Addr().String()) {
		t.Fatalf("Start error %v", err)
	}
	if s.Addr() != "" || s.ListenerAddr(ListenerHTTP01) != "" {
		t.Errorf("addresses after a failed Start: %v", s.addrs)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}
}

func TestStartCanceled(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Start may win the race against the canceled context; either way the
	// server must end up stoppable and not leak goroutines.
	if err := s.Start(ctx); err != nil && err != context.Canceled {
		t.Errorf("Start: %v", err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestArpaToIP(t *testing.T) {
	tests := map[string]string{
		"1.0.0.127.in-addr.arpa": "127.0.0.1",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa": "4321:0:1:2:3:4:567:89ab",
		"1.0.0.127.in-addr.arpa.x":  "",
		"01.0.0.127.in-addr.arpa":   "",
		"256.0.0.127.in-addr.arpa":  "",
		"0.0.127.in-addr.arpa":      "",
		"g.a.9.8.ip6.arpa":          "",
		"www.example.test":          "",
		"10.0.0.127.in-addr.arpa.x": "",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			ip, ok := arpaToIP(in)
			if got := map[bool]string{true: ip.String(), false: ""}[ok]; got != want {
				t.Errorf("arpaToIP(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestHistoryBounds(t *testing.T) {
	h := newHistory()
	for i := range maxEvents + 5 {
		h.addDNS(dns.Question{Name: "a.test.", Qtype: uint16(i), Qclass: 1}, "")
	}
	got := h.DNS("A.test.")
	if len(got) != maxEvents || got[0].Question.Qtype != 5 {
		t.Errorf("kept %d events starting at %d, want %d starting at 5", len(got), got[0].Question.Qtype, maxEvents)
	}
	h.Clear("a.test", HistoryDNS)
	if got := h.DNS("a.test"); got == nil || len(got) != 0 {
		t.Errorf("after Clear: %#v", got)
	}
}
