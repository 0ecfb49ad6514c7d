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
	"github.com/fakeca/fakeca/ratelimit"
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
// tweak, if not nil, adjusts the configuration before the start.
func ldStartInstance(tb testing.TB, mode string, httpPort int, tweak func(*instance.Config)) *instance.Instance {
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
		CA: ca.DefaultConfig(), Validation: val,
		// Load measures the CA, not Let's Encrypt's limits.
		RateLimits: ratelimit.Config{Preset: ratelimit.PresetOff, DisableRequestLimits: true}}
	if tweak != nil {
		tweak(&cfg)
	}
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
func ldInProcess(tb testing.TB, mode string, tweak func(*instance.Config)) *ldDriver {
	tb.Helper()
	resp := ldStartResponder(tb)
	inst := ldStartInstance(tb, mode, resp.port, tweak)
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
				inst := ldStartInstance(b, mode, resp.port, nil)
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
//
// A stall is an issuance that makes no progress for ldStall (10 s); the
// overall deadline only bounds a run that is alive but far too slow. The
// full run is CPU-bound: about 7 ms of CPU per issuance (40% of it the
// clients'), so ≈ 35 s on two otherwise idle cores.
func TestConcurrentClients(t *testing.T) {
	const clients = 32
	total, deadline := 10_000, 5*time.Minute
	if ldRace() || testing.Short() {
		total, deadline = clients*8, 60*time.Second
	}
	d := ldInProcess(t, ldAlwaysValid, nil)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cls, err := d.newClients(ctx, clients)
	if err != nil {
		t.Fatal(err)
	}
	res := ldRun(ctx, cls, total, "", ldStall)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("too slow: %d of %d issuances done when the %s deadline passed (%.0f issuances/s)",
			res.completed, total, deadline, float64(res.completed)/res.elapsed.Seconds())
	case res.stalled:
		t.Fatalf("stalled: an issuance made no progress for %s; %d of %d done", ldStall, res.completed, total)
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

// ldSteadyJournal sizes the event journal so that the warm-up fills it.
// The journal is bounded (default 10,000 events, about 5 MB): while it
// fills it adds about 1.3 KB per order, and nothing once full. Measuring
// with it full gives the growth that never stops.
func ldSteadyJournal(cfg *instance.Config) { cfg.Events.Capacity = 100 }

// TestMemoryPerOrder: heap retained by fakeca per completed order (order,
// authorization, certificate, their indexes and the nonces the requests
// used) stays ≤ 4 KiB once the bounded event journal is full. The client
// runs in the same process; its retained state does not grow with orders.
func TestMemoryPerOrder(t *testing.T) {
	orders := 2000
	if ldRace() || testing.Short() {
		orders = 400
	}
	d := ldInProcess(t, ldAlwaysValid, ldSteadyJournal)
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
// completed order, over max(b.N, 500) orders (use -benchtime=2000x), with
// the journal full (steady state) and with the default journal filling.
func BenchmarkRetainedPerOrder(b *testing.B) {
	for _, c := range []struct {
		name  string
		tweak func(*instance.Config)
	}{{"journal=full", ldSteadyJournal}, {"journal=filling", nil}} {
		b.Run(c.name, func(b *testing.B) {
			d := ldInProcess(b, ldAlwaysValid, c.tweak)
			per, err := ldRetainedPerOrder(d, max(b.N, 500))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(per, "B/order-retained")
		})
	}
}

// ldRetainedPerOrder warms the server up with one client, then issues orders
// certificates and returns the growth of the live heap divided by orders.
func ldRetainedPerOrder(d *ldDriver, orders int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
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
