package challengeval

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

// testKeyAuthz is a realistic key authorization: token "." thumbprint.
const (
	testToken    = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
	testKeyAuthz = testToken + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
)

// testNow is the fake clock's start: 2001-09-09T01:46:40Z.
var testNow = time.Unix(1e9, 0)

// newValidator builds a Validator for tests with a fake clock.
func newValidator(t *testing.T, cfg Config) *Validator {
	t.Helper()
	v, _ := newValidatorClock(t, cfg)
	return v
}

// newValidatorClock builds a Validator and returns its fake clock too.
func newValidatorClock(t *testing.T, cfg Config) (*Validator, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(testNow)
	v, err := New(cfg, Deps{Clock: clk})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v, clk
}

// checkProblem asserts that err is an *acme.Error with the given type and
// exact detail; an empty wantType means success.
func checkProblem(t *testing.T, err error, wantType acme.ErrorType, wantDetail string) {
	t.Helper()
	if wantType == "" {
		if err != nil {
			t.Fatalf("got error %v, want success", err)
		}
		return
	}
	p, ok := acme.As(err)
	if !ok {
		t.Fatalf("got %T %v, want *acme.Error", err, err)
	}
	if p.Type != wantType || p.Detail != wantDetail {
		t.Errorf("got  %s: %q\nwant %s: %q", p.Type, p.Detail, wantType, wantDetail)
	}
}

// testZone is a tiny DNS server's data. It answers like a recursive
// resolver (following CNAMEs inside the zone) unless noRecurse is set.
type testZone struct {
	records   map[string][]dns.RR // by lower-case FQDN owner
	rcodes    map[string]int      // forced RCODE by lower-case FQDN
	truncate  map[string]bool     // answer UDP queries for these with TC set
	truncAll  map[string]bool     // answer every query for these with TC set
	noRecurse bool

	mu      sync.Mutex
	queries []string // "udp TXT name." in arrival order
}

func newZone(t *testing.T, rrs ...string) *testZone {
	t.Helper()
	z := &testZone{records: map[string][]dns.RR{}, rcodes: map[string]int{}, truncate: map[string]bool{},
		truncAll: map[string]bool{}}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad RR %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		z.records[name] = append(z.records[name], rr)
	}
	return z
}

func (z *testZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	network := w.LocalAddr().Network()
	z.mu.Lock()
	z.queries = append(z.queries, network+" "+dns.TypeToString[q.Qtype]+" "+name)
	z.mu.Unlock()
	switch {
	case z.rcodes[name] != 0:
		m.Rcode = z.rcodes[name]
	case z.truncate[name] && network == "udp", z.truncAll[name]:
		z.answer(m, name, q.Qtype)
		m.Truncated = true
	default:
		z.answer(m, name, q.Qtype)
	}
	_ = w.WriteMsg(m)
}

func (z *testZone) answer(m *dns.Msg, name string, qtype uint16) {
	if _, ok := z.records[name]; !ok {
		m.Rcode = dns.RcodeNameError
		return
	}
	for range 10 {
		var cname *dns.CNAME
		for _, rr := range z.records[name] {
			if rr.Header().Rrtype == qtype {
				m.Answer = append(m.Answer, rr)
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if cname == nil || len(m.Answer) > 0 {
			return
		}
		m.Answer = append(m.Answer, cname)
		if z.noRecurse {
			return
		}
		name = strings.ToLower(cname.Target)
	}
}

func (z *testZone) seen() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]string(nil), z.queries...)
}

// startDNS serves h on 127.0.0.1 over UDP and TCP on one port and returns
// "127.0.0.1:port" once both listen.
func startDNS(t *testing.T, h dns.Handler) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			_ = pc.Close() // the TCP port was taken; try another
			continue
		}
		for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = srv.ActivateAndServe()
			}()
			<-started
			t.Cleanup(func() {
				_ = srv.Shutdown()
				<-done
			})
		}
		return pc.LocalAddr().String()
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// hangingListener accepts connections, reads what arrives and never
// answers, until the test ends.
func hangingListener(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	serveRaw(t, l, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	return l
}

// serveRaw runs handle for every connection on l until the test ends, then
// closes l and every connection and waits for the handlers.
func serveRaw(t *testing.T, l net.Listener, handle func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// hasIPv6Loopback reports whether ::1 can be listened on.
func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// errTimeout is a synthetic network timeout.
type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

var _ net.Error = errTimeout{}

// validate runs one request with a generous test deadline.
func validate(t *testing.T, v *Validator, req Request) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := v.Validate(ctx, req)
	if err != nil {
		if _, ok := acme.As(err); !ok {
			t.Fatalf("Validate returned non-ACME error %T: %v", err, errors.Unwrap(err))
		}
	}
	return err
}
