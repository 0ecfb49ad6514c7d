package client

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// updateLog is what the test DNS server saw: one line per update RR.
type updateLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *updateLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *updateLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// startDNS runs an authoritative test server for example.test. on a free
// UDP port: SOA questions get the zone's SOA in Authority, updates are
// logged (zone, class, RR) and answered NOERROR, or NOTAUTH when a TSIG
// does not verify with key.
func startDNS(t *testing.T, key *tsigHMAC) (string, *updateLog) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &updateLog{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		switch {
		case r.Opcode == dns.OpcodeUpdate && r.IsTsig() != nil && w.TsigStatus() != nil:
			m.Rcode = dns.RcodeNotAuth
		case r.Opcode == dns.OpcodeUpdate:
			signed := r.IsTsig() != nil
			for _, rr := range r.Ns {
				log.add(strings.Join([]string{r.Question[0].Name, dns.ClassToString[rr.Header().Class],
					rr.(*dns.TXT).Hdr.Name, rr.(*dns.TXT).Txt[0], map[bool]string{true: "signed", false: "unsigned"}[signed]}, " "))
			}
		default:
			m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET},
				Ns: "ns1.example.test.", Mbox: "hostmaster.example.test.", Serial: 1}}
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) },
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }} // updates too
	if key != nil {
		srv.TsigProvider = key
	}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), log
}

func TestRFC2136(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="
	ch := Challenge{Type: ChallengeDNS01, Identifier: "a.example.test", DNSName: "_acme-challenge.a.example.test.", DNSValue: "digest"}
	tests := []struct {
		name       string
		serverKey  *tsigHMAC
		cfg        RFC2136Config
		wantLines  []string
		wantErrMsg string
	}{
		{name: "unsigned, zone found by SOA", cfg: RFC2136Config{},
			wantLines: []string{"example.test. IN _acme-challenge.a.example.test. digest unsigned",
				"example.test. NONE _acme-challenge.a.example.test. digest unsigned"}},
		{name: "explicit zone", cfg: RFC2136Config{Zone: "a.example.test"},
			wantLines: []string{"a.example.test. IN _acme-challenge.a.example.test. digest unsigned",
				"a.example.test. NONE _acme-challenge.a.example.test. digest unsigned"}},
		{name: "TSIG hmac-sha256", serverKey: &tsigHMAC{name: "key.", alg: dns.HmacSHA256, secret: []byte("secret-secret-secret-secret!")},
			cfg: RFC2136Config{TSIGKeyName: "key", TSIGAlgorithm: "HMACSHA256", TSIGSecret: secret},
			wantLines: []string{"example.test. IN _acme-challenge.a.example.test. digest signed",
				"example.test. NONE _acme-challenge.a.example.test. digest signed"}},
		{name: "TSIG hmac-md5 (cert-manager's default)", serverKey: &tsigHMAC{name: "key.", alg: dns.HmacMD5, secret: []byte("secret-secret-secret-secret!")},
			cfg: RFC2136Config{TSIGKeyName: "key", TSIGAlgorithm: "hmac-md5", TSIGSecret: secret},
			wantLines: []string{"example.test. IN _acme-challenge.a.example.test. digest signed",
				"example.test. NONE _acme-challenge.a.example.test. digest signed"}},
		{name: "wrong TSIG secret: cert-manager's error text", serverKey: &tsigHMAC{name: "key.", alg: dns.HmacSHA256, secret: []byte("other")},
			cfg:        RFC2136Config{TSIGKeyName: "key", TSIGSecret: secret},
			wantErrMsg: "DNS update failed. Server replied: NOTAUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, log := startDNS(t, tt.serverKey)
			tt.cfg.Server = addr
			s, err := NewRFC2136(tt.cfg, RFC2136Deps{Clock: clock.RealClock{}})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Present(context.Background(), ch)
			if tt.wantErrMsg != "" {
				if err == nil || err.Error() != tt.wantErrMsg {
					t.Fatalf("Present error = %v, want %q", err, tt.wantErrMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CleanUp(context.Background(), ch); err != nil {
				t.Fatal(err)
			}
			if got := log.take(); strings.Join(got, "\n") != strings.Join(tt.wantLines, "\n") {
				t.Errorf("server saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.wantLines, "\n"))
			}
		})
	}
}

func TestNewRFC2136Errors(t *testing.T) {
	tests := map[string]RFC2136Config{
		"unknown algorithm": {TSIGKeyName: "k", TSIGAlgorithm: "hmac-sha384x", TSIGSecret: "c2VjcmV0"},
		"bad secret":        {TSIGKeyName: "k", TSIGSecret: "not base64!"},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRFC2136(cfg, RFC2136Deps{Clock: clock.RealClock{}}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
