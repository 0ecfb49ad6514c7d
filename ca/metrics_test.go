package ca

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/store"
)

// TestMetricsScrape runs a known sequence against a server with metrics
// and a real limiter — two issuances, one failed validation, one
// revocation, one rate-limit denial — then scrapes the registry over HTTP,
// parses the text format and checks every counter against what happened.
func TestMetricsScrape(t *testing.T) {
	e, reg := newMetricsEnv(t, map[ratelimit.Name]int64{ratelimit.NewOrdersPerAccount: 3}, nil)
	c := e.newAccount()
	first := c.issue("a.metrics.test")
	second := c.issue("b.metrics.test")

	o, _ := c.newOrder("bad.metrics.test")
	c.authorize(o)
	if a := e.getAuthz(o.Authorizations[0]); a.Status != acme.StatusInvalid {
		t.Fatalf("authorization of bad.metrics.test is %s, want invalid", a.Status)
	}

	r := c.post(e.url(pathRevoke), map[string]any{"certificate": b64Encode(first.der), "reason": reasonSuperseded})
	wantStatus(t, r, http.StatusOK)

	r = c.newOrderRaw(map[string]any{"identifiers": dnsIDs("c.metrics.test")})
	wantStatus(t, r, http.StatusTooManyRequests)

	issuer := func(serial string) string {
		cert, err := e.store.GetCertificate(context.Background(), serial)
		if err != nil {
			t.Fatal(err)
		}
		return cert.IssuerID
	}
	issued := map[string]float64{}
	for _, s := range []string{first.serial, second.serial} {
		issued[`fakeca_certificates_issued_total{issuer="`+issuer(s)+`",profile="classic"}`]++
	}
	fams := scrape(t, reg)
	tests := map[string]float64{
		`fakeca_orders_total{state="created"}`:                                                         3,
		`fakeca_orders_total{state="reused"}`:                                                          0,
		`fakeca_orders_total{state="valid"}`:                                                           2,
		`fakeca_orders_total{state="invalid"}`:                                                         0,
		`fakeca_authorizations_total{state="valid"}`:                                                   2,
		`fakeca_authorizations_total{state="invalid"}`:                                                 1,
		`fakeca_authorizations_total{state="deactivated"}`:                                             0,
		`fakeca_validations_total{challenge="http-01",problem="",result="valid"}`:                      2,
		`fakeca_validations_total{challenge="http-01",problem="unauthorized",result="invalid"}`:        1,
		`fakeca_certificates_revoked_total{issuer="` + issuer(first.serial) + `",reason="superseded"}`: 1,
		`fakeca_ratelimit_decisions_total{limit="NewOrdersPerAccount",outcome="allowed"}`:              3,
		`fakeca_ratelimit_decisions_total{limit="NewOrdersPerAccount",outcome="denied"}`:               1,
		`fakeca_http_requests_total{code="201",endpoint="new-order",method="POST"}`:                    3,
		`fakeca_http_requests_total{code="429",endpoint="new-order",method="POST"}`:                    1,
		`fakeca_http_requests_total{code="200",endpoint="finalize",method="POST"}`:                     2,
		`fakeca_http_requests_total{code="200",endpoint="revoke",method="POST"}`:                       1,
		`fakeca_http_requests_total{code="201",endpoint="new-account",method="POST"}`:                  1,
		`fakeca_http_request_duration_seconds_count{endpoint="new-order"}`:                             4,
	}
	for k, v := range issued {
		tests[k] = v
	}
	for series, want := range tests {
		t.Run(series, func(t *testing.T) {
			got, ok := fams[series]
			if !ok {
				t.Fatalf("series missing from the scrape; have %v", seriesNames(fams, series))
			}
			if got != want {
				t.Errorf("= %v, want %v", got, want)
			}
		})
	}
	for _, family := range []string{"fakeca_certificates_issued_total", "fakeca_certificates_revoked_total",
		"fakeca_validations_total", "fakeca_ratelimit_decisions_total"} {
		if n := len(seriesNames(fams, family+"{")); n != countPrefix(tests, family+"{") {
			t.Errorf("%s has %d series, want only the %d above: %v", family, n, countPrefix(tests, family+"{"),
				seriesNames(fams, family+"{"))
		}
	}
}

// newMetricsEnv is newEnv with Metrics on a fresh registry and a limiter
// with only the given limits (burst = count per hour), observed by the
// metrics; wrap, if set, wraps the store.
func newMetricsEnv(t *testing.T, limits map[ratelimit.Name]int64, wrap func(store.Store) store.Store) (*env, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(testStart)
	rc := ratelimit.Config{Preset: ratelimit.PresetOff}
	for name, burst := range limits {
		rc.Limits = append(rc.Limits, ratelimit.Override{Limit: name, Burst: burst, Count: burst, Period: time.Hour})
	}
	lim, err := ratelimit.New(rc, ratelimit.Deps{Clock: clk, Observer: m.RateLimitDecision})
	if err != nil {
		t.Fatal(err)
	}
	val := validatorFunc(func(_ context.Context, req challengeval.Request) error {
		if strings.HasPrefix(req.Identifier.Value, "bad.") {
			return acme.New(acme.Unauthorized, "Invalid response from http://%s/", req.Identifier.Value)
		}
		return nil
	})
	var st store.Store = store.NewMemory()
	if wrap != nil {
		st = wrap(st)
	}
	h := loadPKI(t, pkiDirs.main, clk)
	cfg := DefaultConfig()
	cfg.ValidationWorkers = 2
	srv, err := New(cfg, Deps{Clock: clk, Store: st, PKI: h, Validator: val, Limiter: lim, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ts := serveTest(t, srv)
	return &env{t: t, srv: srv, clk: clk, store: st, pki: h, hc: ts.Client(), base: ts.URL}, reg
}

// failingStore fails account and order creation while fail is set.
type failingStore struct {
	store.Store
	fail atomic.Bool
}

var _ store.Store = (*failingStore)(nil)

// errStoreDown is failingStore's error.
var errStoreDown = errors.New("store down")

func (f *failingStore) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if f.fail.Load() {
		return store.Account{}, errStoreDown
	}
	return f.Store.CreateAccount(ctx, a)
}

func (f *failingStore) CreateOrder(ctx context.Context, o store.Order, a []store.Authorization) (store.Order, error) {
	if f.fail.Load() {
		return store.Order{}, errStoreDown
	}
	return f.Store.CreateOrder(ctx, o, a)
}

// TestMetricsRefund checks that an account or order the store fails to
// create gives its rate-limit token back (Boulder's refund), while the
// decision that allowed it is still counted.
func TestMetricsRefund(t *testing.T) {
	fs := &failingStore{}
	e, reg := newMetricsEnv(t, map[ratelimit.Name]int64{ratelimit.NewOrdersPerAccount: 2,
		ratelimit.NewRegistrationsPerIPAddress: 2}, func(s store.Store) store.Store { fs.Store = s; return fs })

	fs.fail.Store(true)
	c := e.client(newKey(t))
	wantStatus(t, c.postJWK(e.url(pathNewAccount), map[string]any{"termsOfServiceAgreed": true}), http.StatusInternalServerError)
	fs.fail.Store(false)
	c.register()
	e.newAccount()
	wantStatus(t, e.client(newKey(t)).postJWK(e.url(pathNewAccount), map[string]any{"termsOfServiceAgreed": true}),
		http.StatusTooManyRequests)

	fs.fail.Store(true)
	wantStatus(t, c.newOrderRaw(map[string]any{"identifiers": dnsIDs("a.refund.test")}), http.StatusInternalServerError)
	fs.fail.Store(false)
	c.newOrder("a.refund.test")
	c.newOrder("b.refund.test")
	wantStatus(t, c.newOrderRaw(map[string]any{"identifiers": dnsIDs("c.refund.test")}), http.StatusTooManyRequests)

	got := scrape(t, reg)
	for series, want := range map[string]float64{
		`fakeca_ratelimit_decisions_total{limit="NewRegistrationsPerIPAddress",outcome="allowed"}`: 3,
		`fakeca_ratelimit_decisions_total{limit="NewRegistrationsPerIPAddress",outcome="denied"}`:  1,
		`fakeca_ratelimit_decisions_total{limit="NewOrdersPerAccount",outcome="allowed"}`:          3,
		`fakeca_ratelimit_decisions_total{limit="NewOrdersPerAccount",outcome="denied"}`:           1,
		`fakeca_orders_total{state="created"}`:                                                     2,
		`fakeca_http_requests_total{code="500",endpoint="new-order",method="POST"}`:                1,
		`fakeca_http_requests_total{code="500",endpoint="new-account",method="POST"}`:              1,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}

// scrape serves reg's text exposition over HTTP and returns every sample
// keyed by its series in Prometheus notation with sorted labels.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return flatten(fams)
}

// flatten turns metric families into series → value: counters and gauges
// by value, histograms as their _count.
func flatten(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			series := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+series] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+series] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+series] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// seriesNames lists the series starting like prefix's metric name, for
// failure messages.
func seriesNames(fams map[string]float64, prefix string) []string {
	name, _, _ := strings.Cut(prefix, "{")
	var out []string
	for s := range fams {
		if strings.HasPrefix(s, name+"{") {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func countPrefix(m map[string]float64, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// TestMetricsRecorders checks each recorder's labels on a fresh registry.
func TestMetricsRecorders(t *testing.T) {
	tests := map[string]struct {
		record func(m *Metrics)
		want   map[string]float64
	}{
		"a fault firing is counted by rule": {
			record: func(m *Metrics) { m.FaultFired("flaky"); m.FaultFired("flaky"); m.FaultFired("slow") },
			want:   map[string]float64{`fakeca_fault_hits_total{rule="flaky"}`: 2, `fakeca_fault_hits_total{rule="slow"}`: 1},
		},
		"a rate-limit decision is counted by limit and outcome": {
			record: func(m *Metrics) {
				m.RateLimitDecision(ratelimit.CertificatesPerDomain, true)
				m.RateLimitDecision(ratelimit.CertificatesPerFQDNSet, false)
			},
			want: map[string]float64{
				`fakeca_ratelimit_decisions_total{limit="CertificatesPerDomain",outcome="allowed"}`: 1,
				`fakeca_ratelimit_decisions_total{limit="CertificatesPerFQDNSet",outcome="denied"}`: 1},
		},
		"a request with an unknown method is labelled OTHER; a dropped one has code 0": {
			record: func(m *Metrics) { m.request("directory", "BREW", 0, time.Time{}) },
			want: map[string]float64{
				`fakeca_http_requests_total{code="0",endpoint="directory",method="OTHER"}`: 1,
				`fakeca_http_request_duration_seconds_count{endpoint="directory"}`:         1},
		},
		"a request outside the ACME routes is not counted": {
			record: func(m *Metrics) { m.request("", http.MethodGet, 200, time.Time{}) },
			want:   map[string]float64{},
		},
		"an unknown error fails a validation as serverInternal": {
			record: func(m *Metrics) { m.validation("dns-01", errors.New("boom")) },
			want: map[string]float64{
				`fakeca_validations_total{challenge="dns-01",problem="serverInternal",result="invalid"}`: 1,
				`fakeca_authorizations_total{state="invalid"}`:                                           1},
		},
		"a deactivation and a revocation with an unusual reason": {
			record: func(m *Metrics) { m.deactivated(); m.revokedCert(9, "r1") },
			want: map[string]float64{`fakeca_authorizations_total{state="deactivated"}`: 1,
				`fakeca_certificates_revoked_total{issuer="r1",reason="9"}`: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			tc.record(m)
			got := scrape(t, reg)
			for series, want := range tc.want {
				if got[series] != want {
					t.Errorf("%s = %v, want %v", series, got[series], want)
				}
			}
			for series, v := range got {
				if _, ok := tc.want[series]; !ok && v != 0 {
					t.Errorf("unexpected %s = %v", series, v)
				}
			}
		})
	}
}

// TestMetricsNil checks that a nil *Metrics records nothing and does not
// panic, and that NewMetrics refuses a nil or reused registry.
func TestMetricsNil(t *testing.T) {
	var m *Metrics
	m.FaultFired("x")
	m.RateLimitDecision(ratelimit.NewOrdersPerAccount, false)
	m.request("new-order", http.MethodPost, 201, m.requestStart())
	m.order(orderCreated)
	m.deactivated()
	m.validation("http-01", nil)
	m.issuedCert("classic", "e1")
	m.revokedCert(reasonUnspecified, "e1")
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice with one registry succeeded")
	}
}

// TestMetricsEndpointName checks the endpoint label of every route.
func TestMetricsEndpointName(t *testing.T) {
	tests := map[string]string{
		pathDirectory:                           "directory",
		pathPebbleDir:                           "directory",
		pathNewNonce:                            "new-nonce",
		pathNewAccount:                          "new-account",
		pathAccount + "{acct:[0-9]+}":           "account",
		pathNewOrder:                            "new-order",
		pathOrder + "{acct:[0-9]+}/{id:[0-9]+}": "order",
		pathAuthz + "{acct:[0-9]+}/{id:[0-9]+}": "authz",
		pathChallenge + "{acct:[0-9]+}/{authz:[0-9]+}/{chal}": "challenge",
		pathFinalize + "{acct:[0-9]+}/{id:[0-9]+}":            "finalize",
		pathCert + "{serial}":                                 "certificate",
		pathCert + "{serial}/{chain:[0-9]+}":                  "certificate",
		pathRevoke:                                            "revoke",
		pathKeyChange:                                         "key-change",
		pathRenewalInfo + "/{certID}":                         "renewal-info",
		pathOrders + "{acct:[0-9]+}":                          "list-orders",
		pathOrders + "{acct:[0-9]+}/page/{page}":              "list-orders",
		"":                                                    "not-found",
	}
	for route, want := range tests {
		t.Run(route, func(t *testing.T) {
			if got := endpointName(route); got != want {
				t.Errorf("endpointName(%q) = %q, want %q", route, got, want)
			}
		})
	}
}
