package instance_test

// Load and memory tests against an in-process fakeca, driven by the same
// x/crypto/acme load driver as the benchmarks (bench_test.go).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
)

// ldRace reports whether the test binary was built with -race.
func ldRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// ldStartInstance starts fakeca in-process on free loopback ports.
// http-01 validation goes to 127.0.0.1:httpPort for every *.bench.test name.
func ldStartInstance(tb testing.TB, mode string, httpPort int) *instance.Instance {
	tb.Helper()
	val := challengeval.Config{Resolvers: []string{ldStartDNS(tb)}, HTTP01Port: httpPort}
	if mode == ldAlwaysValid {
		val.AlwaysValid = true
	} else {
		o, err := challengeval.ParseHostOverride("*." + ldDomain + "=127.0.0.1")
		if err != nil {
			tb.Fatal(err)
		}
		val.HostOverrides = append(val.HostOverrides, o)
	}
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		CA: ca.DefaultConfig(), Validation: val}
	inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := inst.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	})
	return inst
}

// ldInProcess starts an in-process fakeca and a driver for it.
func ldInProcess(tb testing.TB, mode string) *ldDriver {
	tb.Helper()
	resp := ldStartResponder(tb)
	inst := ldStartInstance(tb, mode, resp.port)
	if mode == ldAlwaysValid {
		resp = nil
	}
	return newLDDriver(tb, inst.DirectoryURL(), &tls.Config{RootCAs: ldPool(tb, inst.BundlePEM())}, resp)
}

// BenchmarkIssuanceInProcess runs the same load against an in-process fakeca
// (instance.Start). Use it with -cpuprofile / -memprofile to see where the
// server spends its time; the profile includes the client's share.
func BenchmarkIssuanceInProcess(b *testing.B) {
	for _, mode := range []string{ldAlwaysValid, ldHTTP01} {
		for _, n := range []int{1, 4} {
			b.Run(fmt.Sprintf("mode=%s/clients=%d", mode, n), func(b *testing.B) {
				resp := ldStartResponder(b)
				inst := ldStartInstance(b, mode, resp.port)
				srv := ldServer{dirURL: inst.DirectoryURL(), tls: &tls.Config{RootCAs: ldPool(b, inst.BundlePEM())}}
				ldBench(b, srv, ldCase{"inproc", mode, n}, resp)
			})
		}
	}
}

// ldResponder serves http-01 key authorizations for every name on loopback.
type ldResponder struct {
	tokens sync.Map // token → key authorization
	port   int
	srv    *http.Server
}

const ldChallengePath = "/.well-known/acme-challenge/"

func ldStartResponder(tb testing.TB) *ldResponder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &ldResponder{port: ln.Addr().(*net.TCPAddr).Port}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	tb.Cleanup(func() { _ = r.srv.Close() })
	return r
}

func (r *ldResponder) put(token, keyAuth string) { r.tokens.Store(token, keyAuth) }
func (r *ldResponder) del(token string)          { r.tokens.Delete(token) }

func (r *ldResponder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tok, ok := strings.CutPrefix(req.URL.Path, ldChallengePath)
	if !ok {
		http.NotFound(w, req)
		return
	}
	ka, ok := r.tokens.Load(tok)
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(ka.(string)))
}

// TestConcurrentClients: 32 concurrent x/crypto/acme clients (one account
// each) issue 10,000 certificates (new order → challenge → finalize →
// download) against one fakeca, with no error, no retried request and no
// stall. Under -race or -short it issues 32 × 8.
func TestConcurrentClients(t *testing.T) {
	const clients = 32
	total, deadline := 10_000, 120*time.Second
	if ldRace() || testing.Short() {
		total, deadline = clients*8, 60*time.Second
	}
	d := ldInProcess(t, ldAlwaysValid)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cls, err := d.newClients(ctx, clients)
	if err != nil {
		t.Fatal(err)
	}
	res := ldRun(ctx, cls, total, "", ldStall)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("stalled: %d of %d issuances done when the %s deadline passed", res.completed, total, deadline)
	case res.stalled:
		t.Fatalf("stalled: an issuance took longer than %s; %d of %d done", ldStall, res.completed, total)
	case res.errCount > 0:
		t.Fatalf("%d of %d issuances failed; first: %v", res.errCount, total, errors.Join(res.errs...))
	case res.completed != int64(total):
		t.Fatalf("%d of %d issuances completed", res.completed, total)
	}
	if n := d.retries.Load(); n > 0 {
		t.Errorf("x/crypto/acme retried %d requests (badNonce or 5xx); want 0", n)
	}
	t.Logf("%d clients, %d issuances in %s: %.0f issuances/s, p50 %.2f ms, p99 %.2f ms", clients, total,
		res.elapsed.Round(time.Millisecond), float64(total)/res.elapsed.Seconds(),
		ldMS(res.percentile(0.5)), ldMS(res.percentile(0.99)))
}

// ldMaxRetained is the issue's target for heap retained per order.
const ldMaxRetained = 4096

// TestMemoryPerOrder: heap retained by fakeca per completed order (order,
// authorization, certificate and every index, nonce and journal entry that
// comes with them) stays ≤ 4 KiB. The client runs in the same process; its
// retained state does not grow with orders.
func TestMemoryPerOrder(t *testing.T) {
	orders := 2000
	if ldRace() || testing.Short() {
		orders = 400
	}
	d := ldInProcess(t, ldAlwaysValid)
	per, err := ldRetainedPerOrder(d, orders)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retained %.0f B/order over %d orders", per, orders)
	if per > ldMaxRetained {
		// One more, larger measurement before failing: a GC cycle that
		// caught a connection's buffers mid-flight shows up at small N.
		if per, err = ldRetainedPerOrder(d, 2*orders); err != nil {
			t.Fatal(err)
		}
		t.Logf("re-measured: %.0f B/order over %d orders", per, 2*orders)
	}
	if per > ldMaxRetained {
		t.Errorf("retained %.0f B/order, want ≤ %d", per, ldMaxRetained)
	}
}

// BenchmarkRetainedPerOrder reports the in-process heap retained per
// completed order, over max(b.N, 500) orders (use -benchtime=2000x).
func BenchmarkRetainedPerOrder(b *testing.B) {
	d := ldInProcess(b, ldAlwaysValid)
	per, err := ldRetainedPerOrder(d, max(b.N, 500))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(per, "B/order-retained")
}

// ldRetainedPerOrder warms the server up with one client, then issues orders
// certificates and returns the growth of the live heap divided by orders.
func ldRetainedPerOrder(d *ldDriver, orders int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cls, err := d.newClients(ctx, 1)
	if err != nil {
		return 0, err
	}
	prefix := fmt.Sprintf("m%d-", time.Now().UnixNano())
	if err := ldIssueAll(ctx, cls, 50, prefix+"warm"); err != nil {
		return 0, err
	}
	before := ldLiveHeap()
	if err := ldIssueAll(ctx, cls, orders, prefix); err != nil {
		return 0, err
	}
	after := ldLiveHeap()
	runtime.KeepAlive(cls)
	return (float64(after) - float64(before)) / float64(orders), nil
}

func ldIssueAll(ctx context.Context, cls []*ldClient, n int, prefix string) error {
	res := ldRun(ctx, cls, n, prefix, ldStall)
	switch {
	case res.stalled:
		return fmt.Errorf("stalled after %d of %d issuances", res.completed, n)
	case res.errCount > 0:
		return fmt.Errorf("%d of %d issuances failed: %w", res.errCount, n, errors.Join(res.errs...))
	}
	return nil
}

// ldLiveHeap is HeapAlloc after two full collections (the second frees what
// the first's finalizers and sync.Pool victim caches released).
func ldLiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
