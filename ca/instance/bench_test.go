package instance_test

// End-to-end issuance benchmarks: one load driver (x/crypto/acme clients)
// run against fakeca and, when PEBBLE_BIN is set, Pebble, each as a separate
// process so that the server's CPU time can be read from /proc. See
// BENCHMARKS.md for the commands and the figures.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/acme"
)

// Modes of validation the driver can exercise.
const (
	ldAlwaysValid = "always-valid"
	ldHTTP01      = "http-01"
)

// ldDomain is the zone every benchmark name lives in; the servers resolve
// it to 127.0.0.1, where the driver's http-01 responder listens.
const ldDomain = "bench.test"

// ldStall is how long one issuance may take before the run is declared
// stalled (Pebble deadlocks under concurrent clients).
const ldStall = 10 * time.Second

// Poll policy, identical for every server: the first re-poll of an authz or
// order is immediate, later ones back off from ldBackoffMin doubling to
// ldBackoffMax.
const (
	ldBackoffMin = 100 * time.Microsecond
	ldBackoffMax = time.Millisecond
)

// ldPastRetryAfter is an HTTP-date in the past. x/crypto/acme's Wait* helpers
// wait max(Retry-After, 1s when absent or zero); a date in the past makes
// them re-poll at once, and ldPollTransport adds the tiny backoff above.
const ldPastRetryAfter = "Mon, 01 Jan 2001 00:00:00 GMT"

// ldDriver issues certificates against one ACME server. Safe for concurrent
// use once built.
type ldDriver struct {
	dirURL   string
	tls      *tls.Config
	resp     *ldResponder // nil: the server accepts every challenge
	leafKey  *ecdsa.PrivateKey
	retries  atomic.Int64 // requests x/crypto/acme retried (badNonce, 5xx)
	requests atomic.Int64 // HTTP requests sent
	dials    atomic.Int64 // connections opened
}

func newLDDriver(tb testing.TB, dirURL string, tlsCfg *tls.Config, resp *ldResponder) *ldDriver {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &ldDriver{dirURL: dirURL, tls: tlsCfg, resp: resp, leafKey: k}
}

// ldClient is one ACME account with its own connections. Not safe for
// concurrent use: one goroutine drives it.
type ldClient struct {
	d  *ldDriver
	cl *acme.Client
	tr *ldPollTransport
}

// newClient registers a fresh P-256 account.
func (d *ldDriver) newClient(ctx context.Context) (*ldClient, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: d.tls, MaxIdleConnsPerHost: 4, ForceAttemptHTTP2: false,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d.dials.Add(1)
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		}}
	pt := &ldPollTransport{base: tr, requests: &d.requests}
	cl := &acme.Client{Key: key, DirectoryURL: d.dirURL, UserAgent: "fakeca-bench",
		HTTPClient: &http.Client{Transport: pt},
		RetryBackoff: func(n int, _ *http.Request, _ *http.Response) time.Duration {
			d.retries.Add(1)
			if n > 5 {
				return 0
			}
			return time.Duration(n) * time.Millisecond
		}}
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return &ldClient{d: d, cl: cl, tr: pt}, nil
}

// newClients registers n clients.
func (d *ldDriver) newClients(ctx context.Context, n int) ([]*ldClient, error) {
	out := make([]*ldClient, n)
	for i := range out {
		c, err := d.newClient(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// issue runs one issuance for name: new order → http-01 challenge (served by
// the responder unless the server accepts everything) → poll authz →
// finalize → poll order → download the chain.
func (c *ldClient) issue(ctx context.Context, name string) error {
	cl := c.cl
	o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return fmt.Errorf("new-order: %w", err)
	}
	if len(o.AuthzURLs) != 1 {
		return fmt.Errorf("new-order: %d authorizations, want 1", len(o.AuthzURLs))
	}
	z, err := cl.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		return fmt.Errorf("authz: %w", err)
	}
	if z.Status != acme.StatusValid {
		if err := c.solve(ctx, z); err != nil {
			return err
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, c.d.leafKey)
	if err != nil {
		return err
	}
	c.tr.expectFinalize(o.FinalizeURL, o.URI)
	der, _, err := cl.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		return fmt.Errorf("finalize: %w", err)
	}
	if len(der) == 0 {
		return errors.New("finalize: empty chain")
	}
	return nil
}

func (c *ldClient) solve(ctx context.Context, z *acme.Authorization) error {
	i := slices.IndexFunc(z.Challenges, func(ch *acme.Challenge) bool { return ch.Type == "http-01" })
	if i < 0 {
		return fmt.Errorf("authz %s: no http-01 challenge", z.URI)
	}
	ch := z.Challenges[i]
	if c.d.resp != nil {
		ka, err := c.cl.HTTP01ChallengeResponse(ch.Token)
		if err != nil {
			return err
		}
		c.d.resp.put(ch.Token, ka)
		defer c.d.resp.del(ch.Token)
	}
	if _, err := c.cl.Accept(ctx, ch); err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	if _, err := c.cl.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("authz poll: %w", err)
	}
	return nil
}

// ldResult is what one load run measured.
type ldResult struct {
	total     int
	completed int64
	elapsed   time.Duration
	latencies []time.Duration // of completed issuances, sorted
	errs      []error         // first few errors
	errCount  int64
	stalled   bool
}

func (r ldResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.latencies))+0.5) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

// ldRun issues total certificates spread over clients, each client issuing
// one at a time, names <prefix><n>.bench.test. An issuance slower than stall
// stops the run and marks it stalled; so does ctx's end.
func ldRun(ctx context.Context, clients []*ldClient, total int, prefix string, stall time.Duration) ldResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([]time.Duration, total)
	var next, done, errCount atomic.Int64
	var stalled atomic.Bool
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if n >= total {
					return
				}
				ictx, icancel := context.WithTimeout(ctx, stall)
				t0 := time.Now()
				err := c.issue(ictx, fmt.Sprintf("%s%d.%s", prefix, n, ldDomain))
				d := time.Since(t0)
				timedOut := errors.Is(ictx.Err(), context.DeadlineExceeded)
				icancel()
				switch {
				case err == nil:
					lat[n] = d
					done.Add(1)
				case timedOut:
					stalled.Store(true)
					cancel()
				case ctx.Err() == nil:
					errCount.Add(1)
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, fmt.Errorf("issuance %d: %w", n, err))
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res := ldResult{total: total, completed: done.Load(), elapsed: time.Since(start), errs: errs,
		errCount: errCount.Load(), stalled: stalled.Load() || (ctx.Err() != nil && done.Load() < int64(total))}
	for _, d := range lat {
		if d > 0 {
			res.latencies = append(res.latencies, d)
		}
	}
	slices.Sort(res.latencies)
	return res
}

// ldPollTransport makes x/crypto/acme poll tightly and identically against
// every server: successful responses get a Retry-After in the past, and a
// POST to the same URL as the previous one (a re-poll) waits a backoff that
// starts at zero and grows from ldBackoffMin to ldBackoffMax.
//
// It also fills in a missing Location on the finalize response with the
// order URL the driver registered (Pebble omits it on purpose, pebble#508,
// and x/crypto/acme needs it to poll the order).
type ldPollTransport struct {
	base     http.RoundTripper
	requests *atomic.Int64
	mu       sync.Mutex
	last     string
	n        int
	finalize map[string]string // finalize URL → order URL
}

// expectFinalize records the order URL that belongs to a finalize URL.
func (p *ldPollTransport) expectFinalize(finalizeURL, orderURL string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finalize == nil {
		p.finalize = make(map[string]string)
	}
	clear(p.finalize)
	p.finalize[finalizeURL] = orderURL
}

func (p *ldPollTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p.requests.Add(1)
	if req.Method == http.MethodPost {
		u := req.URL.String()
		p.mu.Lock()
		if u == p.last {
			p.n++
		} else {
			p.last, p.n = u, 0
		}
		n := p.n
		p.mu.Unlock()
		if n > 0 {
			if err := ldWait(req.Context(), min(ldBackoffMin<<(min(n, 8)-1), ldBackoffMax)); err != nil {
				return nil, err
			}
		}
	}
	res, err := p.base.RoundTrip(req)
	if err == nil && res.StatusCode < 300 {
		res.Header.Set("Retry-After", ldPastRetryAfter)
		if res.Header.Get("Location") == "" {
			p.mu.Lock()
			if u, ok := p.finalize[req.URL.String()]; ok {
				res.Header.Set("Location", u)
			}
			p.mu.Unlock()
		}
	}
	return res, err
}

func ldWait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ldServer is a server under test: its directory, how to trust it and,
// for a separate process, how to read its CPU time.
type ldServer struct {
	dirURL string
	tls    *tls.Config
	proc   *ldProc // nil when in-process
}

// ldCase is one sub-benchmark.
type ldCase struct {
	server  string
	mode    string
	clients int
}

// BenchmarkIssuance measures end-to-end issuance over loopback against
// fakeca (always) and Pebble (when PEBBLE_BIN is set), each as a separate
// process. Metrics: issuances/s, p50-ms, p99-ms, server-cpu-ms/issuance
// (utime+stime of the server process) and server-rss-KiB growth per
// issuance. FAKECA_BIN selects a prebuilt fakeca binary.
func BenchmarkIssuance(b *testing.B) {
	var cases []ldCase
	for _, srv := range []string{"fakeca", "pebble"} {
		for _, mode := range []string{ldAlwaysValid, ldHTTP01} {
			for _, n := range []int{1, 4, 32} {
				cases = append(cases, ldCase{srv, mode, n})
			}
		}
	}
	binDir, bin := b.TempDir(), ""
	for _, c := range cases {
		name := fmt.Sprintf("server=%s/mode=%s/clients=%d", c.server, c.mode, c.clients)
		b.Run(name, func(b *testing.B) {
			resp := ldStartResponder(b)
			var srv ldServer
			switch c.server {
			case "fakeca":
				if bin == "" { // sub-benchmarks run one at a time
					bin = ldFakecaBinary(b, binDir)
				}
				srv = ldStartFakeca(b, bin, c.mode, resp.port)
			case "pebble":
				srv = ldStartPebble(b, c.mode, resp.port)
			}
			ldBench(b, srv, c, resp)
		})
	}
}

// ldBench registers the clients, issues b.N certificates and reports.
func ldBench(b *testing.B, srv ldServer, c ldCase, resp *ldResponder) {
	ctx := context.Background()
	if c.mode == ldAlwaysValid {
		resp = nil
	}
	d := newLDDriver(b, srv.dirURL, srv.tls, resp)
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	clients, err := d.newClients(setup, c.clients)
	if err != nil {
		b.Fatalf("%s: %v", srv.dirURL, err)
	}
	// One unmeasured issuance per client warms connections and nonces.
	if res := ldRun(ctx, clients, len(clients), "warm", ldStall); res.errCount > 0 || res.stalled {
		ldReport(b, res, c, ldSample{}, false)
		return
	}
	var m0, m1 ldSample
	m0 = ldSampleNow(b, srv.proc, d)
	b.ResetTimer()
	res := ldRun(ctx, clients, b.N, "", ldStall)
	b.StopTimer()
	m1 = ldSampleNow(b, srv.proc, d)
	ldReport(b, res, c, m1.minus(m0), srv.proc != nil)
}

// ldSample is what the driver and /proc say at one instant.
type ldSample struct {
	cpu, self         time.Duration
	rss               int64
	requests, retries int64
	dials             int64
}

func ldSampleNow(b *testing.B, p *ldProc, d *ldDriver) ldSample {
	s := ldSample{requests: d.requests.Load(), retries: d.retries.Load(), dials: d.dials.Load(),
		self: ldCPUTime(b, "self")}
	if p != nil {
		s.cpu, s.rss = p.cpuTime(b), p.rss(b)
	}
	return s
}

func (s ldSample) minus(o ldSample) ldSample {
	return ldSample{cpu: s.cpu - o.cpu, self: s.self - o.self, rss: s.rss - o.rss, requests: s.requests - o.requests,
		retries: s.retries - o.retries, dials: s.dials - o.dials}
}

func ldReport(b *testing.B, res ldResult, c ldCase, m ldSample, haveProc bool) {
	if res.stalled {
		b.Logf("STALLED: %s with %d clients completed %d of %d issuances (an issuance made no progress for %s)",
			c.server, c.clients, res.completed, res.total, ldStall)
		b.ReportMetric(1, "stalled")
		b.ReportMetric(float64(res.completed), "completed")
		return
	}
	if res.errCount > 0 {
		b.Fatalf("%d of %d issuances failed; first: %v", res.errCount, res.total, errors.Join(res.errs...))
	}
	n := float64(res.completed)
	b.ReportMetric(n/res.elapsed.Seconds(), "issuances/s")
	b.ReportMetric(ldMS(res.percentile(0.50)), "p50-ms")
	b.ReportMetric(ldMS(res.percentile(0.99)), "p99-ms")
	b.ReportMetric(float64(m.requests)/n, "requests/issuance")
	if haveProc {
		b.ReportMetric(ldMS(m.self)/n, "client-cpu-ms/issuance")
		b.ReportMetric(ldMS(m.cpu)/n, "server-cpu-ms/issuance")
		b.ReportMetric(float64(m.rss)/1024/n, "server-rss-KiB/issuance")
	}
	if m.retries > 0 {
		b.ReportMetric(float64(m.retries), "client-retries")
	}
	if m.dials > 0 {
		b.ReportMetric(float64(m.dials)/n, "conns/issuance")
	}
}

func ldMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ldPool(tb testing.TB, pem []byte) *x509.CertPool {
	tb.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("no certificates in the trust bundle")
	}
	return pool
}

// ldProc is a server running as a child process, killed at cleanup.
type ldProc struct {
	cmd *exec.Cmd
}

// ldClockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; 100
// on every Linux architecture Go supports.
const ldClockTicks = 100

// cpuTime is the process's user + system CPU time so far.
func (p *ldProc) cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	return ldCPUTime(tb, strconv.Itoa(p.cmd.Process.Pid))
}

// ldCPUTime reads utime + stime of /proc/<pid>/stat ("self" for this
// process).
func ldCPUTime(tb testing.TB, pid string) time.Duration {
	tb.Helper()
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after "(comm)": state is field 3, utime 14, stime 15.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("parsing /proc/%s/stat: %v %v", pid, err1, err2)
	}
	return time.Duration(utime+stime) * time.Second / ldClockTicks
}

// rss is the process's resident set size in bytes.
func (p *ldProc) rss(tb testing.TB) int64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", p.cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(raw))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

func ldStartProc(tb testing.TB, cmd *exec.Cmd) *ldProc {
	tb.Helper()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		// SIGTERM first so a profiling build can flush; SIGKILL if it hangs.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return &ldProc{cmd: cmd}
}

// ldFakecaBinary returns FAKECA_BIN or builds ./cmd/fakeca into dir.
func ldFakecaBinary(tb testing.TB, dir string) string {
	tb.Helper()
	if bin := os.Getenv("FAKECA_BIN"); bin != "" {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go tool on PATH to build cmd/fakeca; set FAKECA_BIN")
	}
	bin := filepath.Join(dir, "fakeca")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/fakeca/fakeca/cmd/fakeca").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build ./cmd/fakeca: %v\n%s", err, out)
	}
	return bin
}

// ldFakecaConfig is the default preset (letsencrypt-staging) with Let's
// Encrypt's rate limits off: the load measures the CA, not the limits, and
// Pebble has none.
const ldFakecaConfig = `rateLimits:
  preset: "off"
  disableRequestLimits: true
`

// ldStartFakeca runs the fakeca binary (ldFakecaConfig) on free loopback ports, logs to
// /dev/null, and waits for its banner.
func ldStartFakeca(tb testing.TB, bin, mode string, httpPort int) ldServer {
	tb.Helper()
	dir := tb.TempDir()
	bundle, config := filepath.Join(dir, "bundle.pem"), filepath.Join(dir, "fakeca.yaml")
	if err := os.WriteFile(config, []byte(ldFakecaConfig), 0o600); err != nil {
		tb.Fatal(err)
	}
	args := []string{"serve", "--config", config,
		"--listen", "127.0.0.1:0", "--mgmt-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--bundle-out", bundle, "--http01-port", strconv.Itoa(httpPort), "--resolve", "*." + ldDomain + "=127.0.0.1",
		"--dns-resolver", ldStartDNS(tb)}
	if mode == ldAlwaysValid {
		args = append(args, "--always-valid")
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p := ldStartProc(tb, cmd)
	const banner = "fakeca is serving ACME at "
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), banner); ok {
				found <- strings.TrimSpace(u)
				break
			}
		}
		close(found)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	var dirURL string
	select {
	case u, ok := <-found:
		if !ok {
			tb.Fatal("fakeca exited before serving")
		}
		dirURL = u
	case <-timeout.C:
		tb.Fatal("fakeca did not print its banner within 30s")
	}
	pem, err := os.ReadFile(bundle)
	if err != nil {
		tb.Fatal(err)
	}
	return ldServer{dirURL: dirURL, tls: &tls.Config{RootCAs: ldPool(tb, pem)}, proc: p}
}

// ldPebbleConfig is the part of Pebble's JSON configuration the benchmark sets.
type ldPebbleConfig struct {
	ListenAddress           string                     `json:"listenAddress"`
	ManagementListenAddress string                     `json:"managementListenAddress"`
	Certificate             string                     `json:"certificate"`
	PrivateKey              string                     `json:"privateKey"`
	HTTPPort                int                        `json:"httpPort"`
	TLSPort                 int                        `json:"tlsPort"`
	KeyAlgorithm            string                     `json:"keyAlgorithm"`
	RetryAfter              map[string]int             `json:"retryAfter"`
	Profiles                map[string]ldPebbleProfile `json:"profiles"`
}

type ldPebbleProfile struct {
	Description    string `json:"description"`
	ValidityPeriod int    `json:"validityPeriod"`
}

// ldStartPebble runs PEBBLE_BIN with the environment of the issue
// (no VA sleeps, no nonce rejection, no authz reuse), an ECDSA hierarchy, a
// self-signed ECDSA P-256 serving certificate like fakeca's, and a DNS
// server answering 127.0.0.1 for *.bench.test. It skips when PEBBLE_BIN is
// unset.
func ldStartPebble(tb testing.TB, mode string, httpPort int) ldServer {
	tb.Helper()
	bin := os.Getenv("PEBBLE_BIN")
	if bin == "" {
		tb.Skip("PEBBLE_BIN not set (see scripts/bench-pebble.sh)")
	}
	dir := tb.TempDir()
	certPath, keyPath, pool := ldServingCert(tb, dir)
	addr := ldFreeAddr(tb)
	cfg := map[string]ldPebbleConfig{"pebble": {ListenAddress: addr, Certificate: certPath, PrivateKey: keyPath,
		HTTPPort: httpPort, TLSPort: 1, KeyAlgorithm: "ecdsa", RetryAfter: map[string]int{"authz": 0, "order": 0},
		Profiles: map[string]ldPebbleProfile{"default": {Description: "default", ValidityPeriod: 7776000}}}}
	raw, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgPath, "-dnsserver", ldStartDNS(tb))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	if mode == ldAlwaysValid {
		cmd.Env = append(cmd.Env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	p := ldStartProc(tb, cmd)
	srv := ldServer{dirURL: "https://" + addr + "/dir", tls: &tls.Config{RootCAs: pool}, proc: p}
	ldAwaitDirectory(tb, srv)
	return srv
}

// ldAwaitDirectory polls the directory until it answers: Pebble prints
// "Listening on" before it binds, so there is no readiness signal to wait on.
func ldAwaitDirectory(tb testing.TB, srv ldServer) {
	tb.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: srv.tls}, Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		res, err := hc.Get(srv.dirURL)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if werr := ldWait(ctx, 20*time.Millisecond); werr != nil {
			tb.Fatalf("%s not answering after 30s: %v", srv.dirURL, err)
		}
	}
}

func ldFreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ldServingCert writes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and localhost and returns its paths and a pool trusting it.
func ldServingCert(tb testing.TB, dir string) (string, string, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certPath, keyPath, ldPool(tb, certPEM)
}

// ldStartDNS serves A 127.0.0.1 for every name under bench.test, and an
// empty NOERROR answer to anything else (AAAA, CAA), over UDP and TCP on one
// loopback port, and returns host:port.
func ldStartDNS(tb testing.TB) string {
	tb.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA && dns.IsSubDomain(ldDomain+".", qq.Name) {
				m.Answer = append(m.Answer, &dns.A{A: net.IPv4(127, 0, 0, 1).To4(),
					Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}})
			}
		}
		_ = w.WriteMsg(m)
	})
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			_ = pc.Close()
			continue // the TCP port was taken; try another
		}
		for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go func() { _ = s.ActivateAndServe() }()
			<-started
			tb.Cleanup(func() { _ = s.Shutdown() })
		}
		return pc.LocalAddr().String()
	}
	tb.Fatal("no loopback port free for both UDP and TCP")
	return ""
}
