package instance_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/third_party/forked/acme"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/acme"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

// Let's Encrypt's 429 details (reference §2.2) with the burst and period
// of the limits below filled in; %s is the "retry after" timestamp.
const (
	rlHelpLink = `<https://letsencrypt.org/docs/rate-limits>;rel="help"`

	rlDetailRegistrations = "too many new registrations (2) from this IP address in the last 3h0m0s, retry after %s: " +
		"see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ip-address"
	rlDetailNewOrders = "too many new orders (2) from this account in the last 3h0m0s, retry after %s: " +
		"see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"
	rlDetailNewOrdersProd = "too many new orders (300) from this account in the last 3h0m0s, retry after %s: " +
		"see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"
	rlDetailFailedAuthz = `too many failed authorizations (2) for "f.fail.test" in the last 1h0m0s, retry after %s: ` +
		"see https://letsencrypt.org/docs/rate-limits/#authorization-failures-per-identifier-per-account"
	rlDetailCertsPerDomain = `too many certificates (2) already issued for "cpd.test" in the last 168h0m0s, retry after %s: ` +
		"see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain"
	rlDetailFQDNSet = "too many certificates (2) already issued for this exact set of identifiers in the last 168h0m0s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers"
	rlDetailFQDNSetProd = "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers"
	rlDetailPaused = "Your account is temporarily prevented from requesting certificates for p.fail.test and possibly others. " +
		"Please visit: %s"
)

// rlLimit is a limit with burst = count, refilled over period.
func rlLimit(name ratelimit.Name, burst int64, period time.Duration) ratelimit.Override {
	return ratelimit.Override{Limit: name, Burst: burst, Count: burst, Period: period}
}

// TestRateLimitE2E spends every Let's Encrypt limit with real ACME clients
// against the production preset (bursts made tiny with Limits, texts
// unchanged) on a fake clock, and checks the 429s byte for byte, the
// renewal exemptions, pausing and unpausing, and the management API.
func TestRateLimitE2E(t *testing.T) {
	tests := map[string]func(*testing.T){
		"NewRegistrationsPerIPAddress":               rlRegistrations,
		"NewOrdersPerAccount":                        rlNewOrders,
		"FailedAuthorizationsPerDomainPerAccount":    rlFailedAuthz,
		"CertificatesPerDomain and renewals":         rlCertsPerDomain,
		"CertificatesPerFQDNSet":                     rlFQDNSet,
		"ARI renewal inside the window":              rlARI,
		"paused identifier and unpause":              rlPaused,
		"management exhaust, reset, events, metrics": rlManagement,
	}
	var subtests []e2eSubtest
	for name, fn := range tests {
		subtests = append(subtests, e2eSubtest{name, fn})
	}
	e2eRunConcurrently(t, subtests)
}

// rlRegistrations registers accounts from 127.0.0.1 until refused.
func rlRegistrations(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.NewRegistrationsPerIPAddress, 2, 3*time.Hour))
	e.newClient(t)
	e.newClient(t)
	c := e.client(t)
	_, err := c.Register(e2eContext(t), &acme.Account{}, acme.AcceptTOS)
	e.wantLimited(t, err, c.tap.last(), rlDetailRegistrations, 90*time.Minute)
}

// rlNewOrders spends NewOrdersPerAccount, after checking that orders
// refused before the limits (identifiers the policy rejects) spend
// nothing.
func rlNewOrders(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.NewOrdersPerAccount, 2, 3*time.Hour))
	c := e.newClient(t)
	ctx := e2eContext(t)
	rejected := map[string]struct {
		ids  []acme.AuthzID
		opts []acme.OrderOption
		typ  string
	}{
		"IP address in the classic profile": {acme.IPIDs("127.0.0.1"), nil, "urn:ietf:params:acme:error:rejectedIdentifier"},
		"bad identifier":                    {acme.DomainIDs("-a-.orders.test"), nil, "urn:ietf:params:acme:error:rejectedIdentifier"},
	}
	for name, r := range rejected {
		_, err := c.AuthorizeOrder(ctx, r.ids, r.opts...)
		if p := c.tap.last().problem(t); err == nil || p.Type != r.typ {
			t.Errorf("%s: %v (%+v), want %s", name, err, p, r.typ)
		}
	}
	if got := e.remaining(t, "3:"+strconv.FormatInt(c.id, 10)); got != -1 {
		t.Errorf("after refused orders NewOrdersPerAccount has %d left, want a full bucket (not listed)", got)
	}
	for _, n := range []string{"a.orders.test", "b.orders.test"} {
		if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs(n)); err != nil {
			t.Fatalf("order %s: %v", n, err)
		}
	}
	_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("c.orders.test"))
	e.wantLimited(t, err, c.tap.last(), rlDetailNewOrders, 90*time.Minute)
}

// rlFailedAuthz fails two validations of one name, then orders it again.
func rlFailedAuthz(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.FailedAuthorizationsPerDomainPerAccount, 2, time.Hour))
	c := e.newClient(t)
	c.fail(t, "f.fail.test")
	c.fail(t, "f.fail.test")
	_, err := c.AuthorizeOrder(e2eContext(t), acme.DomainIDs("f.fail.test"))
	e.wantLimited(t, err, c.tap.last(), rlDetailFailedAuthz, 30*time.Minute)
}

// rlCertsPerDomain spends CertificatesPerDomain, then checks that renewing
// an exact set issued less than 120 days ago is exempt from it and from
// NewOrdersPerAccount, and that after 120 days it no longer is.
func rlCertsPerDomain(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.CertificatesPerDomain, 2, 168*time.Hour))
	c := e.newClient(t)
	ctx := e2eContext(t)
	c.issue(t, "a1.cpd.test")
	c.issue(t, "a2.cpd.test")
	_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("a3.cpd.test"))
	e.wantLimited(t, err, c.tap.last(), rlDetailCertsPerDomain, 84*time.Hour)

	e.exhaust(t, "NewOrdersPerAccount", strconv.FormatInt(c.id, 10))
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("a1.cpd.test")); err != nil {
		t.Fatalf("renewal of a1.cpd.test with CertificatesPerDomain and NewOrdersPerAccount exhausted: %v", err)
	}

	e.clk.Step(121 * 24 * time.Hour)
	e.exhaust(t, "CertificatesPerDomain", "cpd.test")
	_, err = c.AuthorizeOrder(ctx, acme.DomainIDs("a1.cpd.test"))
	e.wantLimited(t, err, c.tap.last(), rlDetailCertsPerDomain, 84*time.Hour)
}

// rlFQDNSet issues one set twice (the second is a renewal, which
// CertificatesPerFQDNSet still counts) and is then refused a third.
func rlFQDNSet(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.CertificatesPerFQDNSet, 2, 168*time.Hour))
	c := e.newClient(t)
	c.issue(t, "s.fqdn.test", "t.fqdn.test")
	c.issue(t, "t.fqdn.test", "s.fqdn.test")
	_, err := c.AuthorizeOrder(e2eContext(t), acme.DomainIDs("s.fqdn.test", "t.fqdn.test"))
	e.wantLimited(t, err, c.tap.last(), rlDetailFQDNSet, 84*time.Hour)
}

// rlARI renews with "replaces" (cert-manager's fork): outside the
// suggested window the order falls back to the exact-set rules and is
// refused by CertificatesPerFQDNSet; inside it, it is exempt from every
// limit while a plain order for the same set is still refused.
func rlARI(t *testing.T) {
	e := rlStart(t)
	ctx := e2eContext(t)
	cl, tap, id := e.cmClient(t)
	leaf := rlCMIssue(ctx, t, cl, "ari.test")
	certID, err := cmacme.CertificateARIID(leaf)
	if err != nil {
		t.Fatal(err)
	}
	ri, err := cl.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	replaces := cmacme.WithOrderReplacesCertID(certID)
	ids := []cmacme.AuthzID{{Type: "dns", Value: "ari.test"}}

	e.exhaust(t, "CertificatesPerFQDNSet", "ari.test")
	_, err = cl.AuthorizeOrder(ctx, ids, replaces)
	e.wantLimited(t, err, tap.last(), rlDetailFQDNSetProd, 168*time.Hour/5)

	e.clk.SetTime(ri.SuggestedWindow.Start.Add(ri.SuggestedWindow.End.Sub(ri.SuggestedWindow.Start) / 2))
	for limit, key := range map[string]string{"CertificatesPerFQDNSet": "ari.test",
		"NewOrdersPerAccount": strconv.FormatInt(id, 10), "CertificatesPerDomain": "ari.test"} {
		e.exhaust(t, limit, key)
	}
	_, err = cl.AuthorizeOrder(ctx, ids)
	e.wantLimited(t, err, tap.last(), rlDetailFQDNSetProd, 168*time.Hour/5)
	if _, err := cl.AuthorizeOrder(ctx, ids, replaces); err != nil {
		t.Fatalf("ARI order inside the window with every limit exhausted: %v (%s)", err, tap.last().body)
	}
	var o struct {
		Replaces string `json:"replaces"`
	}
	if r := tap.last(); r.status != http.StatusCreated || json.Unmarshal(r.body, &o) != nil || o.Replaces != certID {
		t.Errorf("ARI order answered %d %s, want 201 replacing %s", r.status, r.body, certID)
	}
}

// rlPaused fails validations until the identifier is paused, checks the
// paused 429, follows the unpause link as a browser would and orders
// again.
func rlPaused(t *testing.T) {
	e := rlStart(t, rlLimit(ratelimit.FailedAuthorizationsForPausingPerDomainPerAccount, 1, 24*time.Hour))
	c := e.newClient(t)
	ctx := e2eContext(t)
	c.fail(t, "p.fail.test")
	c.fail(t, "p.fail.test")
	_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("p.fail.test"))
	link := e.wantPaused(t, err, c.tap.last())
	e.unpause(t, link)
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("p.fail.test")); err != nil {
		t.Fatalf("order after unpausing: %v", err)
	}
}

// wantPaused checks the 429 of an order for the paused p.fail.test and
// returns its unpause link, which points at this CA.
func (e *rlEnv) wantPaused(t *testing.T, err error, r rlResponse) string {
	t.Helper()
	p := r.problem(t)
	before, after, _ := strings.Cut(rlDetailPaused, "%s")
	pattern := `^` + regexp.QuoteMeta(before) + `(https://` + regexp.QuoteMeta(e.inst.ACMEAddr()) +
		`/sfe/v1/unpause\?jwt=[\w-]+\.[\w-]+\.[\w-]+)` + regexp.QuoteMeta(after) + `$`
	m := regexp.MustCompile(pattern).FindStringSubmatch(p.Detail)
	switch {
	case err == nil || r.status != http.StatusTooManyRequests || p.Type != "urn:ietf:params:acme:error:rateLimited":
		t.Fatalf("order for a paused identifier: %v, %d %+v", err, r.status, p)
	case m == nil:
		t.Fatalf("paused detail %q\ndoes not match %s", p.Detail, pattern)
	case r.header.Get("Retry-After") != "" || rlHasHelpLink(r.header):
		t.Errorf("paused 429 has Retry-After %q, Link %q; want neither", r.header.Get("Retry-After"), r.header.Values("Link"))
	}
	return m[1]
}

// unpause follows an unpause link for p.fail.test as a browser would: the
// form, its POST, and the status page saying one identifier was unpaused.
func (e *rlEnv) unpause(t *testing.T, link string) {
	t.Helper()
	hc := httpClient(t, e.inst.BundlePEM())
	form := rlGetPage(t, hc, link)
	action := regexp.MustCompile(`<form action="([^"]+)" method="POST">`).FindStringSubmatch(form)
	if action == nil || !strings.Contains(form, "<li>p.fail.test</li>") {
		t.Fatalf("unpause form lacks the action or the identifier:\n%s", form)
	}
	resp, err := hc.Post("https://"+e.inst.ACMEAddr()+strings.ReplaceAll(action[1], "&amp;", "&"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.Request.URL.Path != "/sfe/v1/unpause-status" || !strings.Contains(string(status), "has been unpaused (1 identifiers)") {
		t.Fatalf("unpause POST ended at %s:\n%s", resp.Request.URL, status)
	}
}

// rlManagement exhausts an account's NewOrdersPerAccount over the
// management API (production numbers), checks the client is refused, that
// the journal and the metrics saw it (and a fault's firing), and that
// reset restores it.
func rlManagement(t *testing.T) {
	e := rlStartWith(t, nil, faults.Config{Rules: []faults.Rule{{Name: "nonce-down",
		Match:  faults.Match{Operation: faults.OpNewNonce, Method: http.MethodGet},
		Action: faults.Action{Problem: &faults.Problem{Type: "serverInternal", Detail: "down", Status: 500}}}}})
	c := e.newClient(t)
	ctx := e2eContext(t)
	e.exhaust(t, "NewOrdersPerAccount", strconv.FormatInt(c.id, 10))
	_, err := c.AuthorizeOrder(ctx, acme.DomainIDs("m.mgmt.test"))
	r := c.tap.last()
	e.wantLimited(t, err, r, rlDetailNewOrdersProd, 36*time.Second)

	var journal struct {
		Events []struct {
			Account int64  `json:"account"`
			Limit   string `json:"limit"`
			Problem struct {
				Detail     string `json:"detail"`
				RetryAfter int64  `json:"retryAfter"`
			} `json:"problem"`
		} `json:"events"`
	}
	e.mgmt(t, http.MethodGet, "/events?kind=rate-limited", nil, &journal)
	ra, _ := strconv.ParseInt(r.header.Get("Retry-After"), 10, 64)
	if n := len(journal.Events); n != 1 {
		t.Fatalf("journal has %d rate-limited events, want 1: %+v", n, journal)
	}
	if ev := journal.Events[0]; ev.Account != c.id || ev.Limit != "NewOrdersPerAccount" ||
		ev.Problem.Detail != r.problem(t).Detail || ev.Problem.RetryAfter != ra {
		t.Errorf("rate-limited event %+v, want account %d, limit NewOrdersPerAccount, the 429's detail and Retry-After %d",
			ev, c.id, ra)
	}

	resp, err := e.mgmc.Get("https://" + e.inst.ACMEAddr() + "/acme/new-nonce")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	metrics := e.scrape(t)
	for series, want := range map[string]float64{
		`fakeca_fault_hits_total{rule="nonce-down"}`:                                     1,
		`fakeca_http_requests_total{code="500",endpoint="new-nonce",method="GET"}`:       1,
		`fakeca_ratelimit_decisions_total{limit="NewOrdersPerAccount",outcome="denied"}`: 1,
		`fakeca_http_requests_total{code="429",endpoint="new-order",method="POST"}`:      1,
		`fakeca_orders_total{state="created"}`:                                           0,
	} {
		if got := metrics[series]; got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	var reset map[string]int
	e.mgmt(t, http.MethodPost, "/rate-limits/reset", map[string]string{"limit": "NewOrdersPerAccount",
		"key": strconv.FormatInt(c.id, 10)}, &reset)
	if reset["reset"] != 1 {
		t.Errorf("reset answered %v, want one bucket reset", reset)
	}
	if _, err := c.AuthorizeOrder(ctx, acme.DomainIDs("m.mgmt.test")); err != nil {
		t.Fatalf("order after reset: %v", err)
	}
}

// rlEnv is one CA on a fake clock that starts at the real time (the
// serving certificate's validity comes from it). Names under fail.test
// fail http-01 (their responder answers 404); every other name is valid.
type rlEnv struct {
	inst *instance.Instance
	clk  *clocktesting.FakeClock
	mgmc *http.Client
}

// rlStart starts a CA with the letsencrypt-production preset, limits
// replaced as given, and no load-balancer request limits.
func rlStart(t *testing.T, limits ...ratelimit.Override) *rlEnv {
	t.Helper()
	return rlStartWith(t, limits, faults.Config{})
}

// rlStartWith is rlStart with fault rules.
func rlStartWith(t *testing.T, limits []ratelimit.Override, fc faults.Config) *rlEnv {
	t.Helper()
	cfg := rlConfig(t, limits, fc)
	return rlStartConfig(t, cfg, clocktesting.NewFakeClock(time.Now()))
}

// rlConfig is the configuration of rlStartWith's CA.
func rlConfig(t *testing.T, limits []ratelimit.Override, fc faults.Config) instance.Config {
	t.Helper()
	web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(web.Close)
	port, err := strconv.Atoi(web.URL[strings.LastIndexByte(web.URL, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	override, err := challengeval.ParseHostOverride("*.fail.test=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	val := challengeval.Config{AlwaysValid: true, Rules: []challengeval.Rule{{Pattern: "*.fail.test", AlwaysValid: &no}},
		HTTP01Port: port, HostOverrides: []challengeval.HostOverride{override}, Resolvers: []string{"127.0.0.1:1"},
		LookupTimeout: time.Second, HTTPTimeout: 5 * time.Second}
	return instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		CA: ca.DefaultConfig(), Validation: val, Faults: fc, RateLimits: ratelimit.Config{Preset: ratelimit.PresetProduction,
			DisableRequestLimits: true, Limits: limits}}
}

// rlStartConfig starts a CA from cfg on clk, shut down when the test ends.
func rlStartConfig(t *testing.T, cfg instance.Config, clk *clocktesting.FakeClock) *rlEnv {
	t.Helper()
	inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Shutdown(context.Background()) })
	return &rlEnv{inst: inst, clk: clk, mgmc: httpClient(t, inst.BundlePEM())}
}

// rlClient is an x/crypto/acme client whose responses are recorded.
type rlClient struct {
	*acme.Client
	tap *rlTap
	id  int64 // the account ID, once registered
}

func rlKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// client is an unregistered client with a fresh key.
func (e *rlEnv) client(t *testing.T) *rlClient {
	hc := httpClient(t, e.inst.BundlePEM())
	tap := &rlTap{next: hc.Transport}
	hc.Transport = tap
	return &rlClient{Client: &acme.Client{Key: rlKey(t), DirectoryURL: e.inst.DirectoryURL(), HTTPClient: hc,
		RetryBackoff: rlBackoff}, tap: tap}
}

// newClient is a registered client.
func (e *rlEnv) newClient(t *testing.T) *rlClient {
	t.Helper()
	c := e.client(t)
	a, err := c.Register(e2eContext(t), &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	c.id = rlAccountID(t, a.URI)
	return c
}

func rlAccountID(t *testing.T, uri string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(uri[strings.LastIndexByte(uri, '/')+1:], 10, 64)
	if err != nil {
		t.Fatalf("account URL %q: %v", uri, err)
	}
	return id
}

// rlBackoff retries bad nonces at once and never a 429, so the test sees
// the CA's first refusal.
func rlBackoff(n int, _ *http.Request, resp *http.Response) time.Duration {
	if n > 3 || resp == nil || resp.StatusCode == http.StatusTooManyRequests {
		return 0
	}
	return time.Millisecond
}

// issue obtains a certificate for names (none under fail.test).
func (c *rlClient) issue(t *testing.T, names ...string) {
	t.Helper()
	ctx := e2eContext(t)
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		t.Fatalf("order %v: %v", names, err)
	}
	for _, u := range o.AuthzURLs {
		if st := c.validate(t, u); st != acme.StatusValid {
			t.Fatalf("authorization %s is %s", u, st)
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, rlKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, true); err != nil {
		t.Fatalf("finalize %v: %v", names, err)
	}
}

// fail orders name and fails its http-01 validation.
func (c *rlClient) fail(t *testing.T, name string) {
	t.Helper()
	o, err := c.AuthorizeOrder(e2eContext(t), acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("order %s: %v", name, err)
	}
	if st := c.validate(t, o.AuthzURLs[0]); st != acme.StatusInvalid {
		t.Fatalf("authorization of %s is %s, want invalid", name, st)
	}
}

// validate answers the http-01 challenge of a pending authorization and
// returns its final status.
func (c *rlClient) validate(t *testing.T, authzURL string) string {
	t.Helper()
	ctx := e2eContext(t)
	a, err := c.GetAuthorization(ctx, authzURL)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != acme.StatusPending {
		return a.Status
	}
	for _, ch := range a.Challenges {
		if ch.Type == e2eHTTP01 {
			if _, err := c.Accept(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	for a.Status == acme.StatusPending && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond) // validation runs on the CA's workers
		if a, err = c.GetAuthorization(ctx, authzURL); err != nil {
			t.Fatal(err)
		}
	}
	return a.Status
}

// cmClient registers a cert-manager fork client (it can send "replaces").
func (e *rlEnv) cmClient(t *testing.T) (*cmacme.Client, *rlTap, int64) {
	t.Helper()
	hc := httpClient(t, e.inst.BundlePEM())
	tap := &rlTap{next: hc.Transport}
	hc.Transport = tap
	cl := &cmacme.Client{Key: rlKey(t), DirectoryURL: e.inst.DirectoryURL(), HTTPClient: hc, RetryBackoff: rlBackoff}
	a, err := cl.Register(e2eContext(t), &cmacme.Account{}, cmacme.AcceptTOS)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return cl, tap, rlAccountID(t, a.URI)
}

// rlCMIssue obtains a certificate for name with the fork and returns it.
func rlCMIssue(ctx context.Context, t *testing.T, cl *cmacme.Client, name string) *x509.Certificate {
	t.Helper()
	o, err := cl.AuthorizeOrder(ctx, []cmacme.AuthzID{{Type: "dns", Value: name}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range o.AuthzURLs {
		a, err := cl.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range a.Challenges {
			if ch.Type == e2eHTTP01 {
				if _, err := cl.Accept(ctx, ch); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := cl.WaitAuthorization(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, rlKey(t))
	if err != nil {
		t.Fatal(err)
	}
	der, _, err := cl.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// rlTap records the last response a client received.
type rlTap struct {
	next http.RoundTripper
	mu   sync.Mutex
	resp rlResponse
}

// rlResponse is a recorded response.
type rlResponse struct {
	status int
	header http.Header
	body   []byte
}

func (tp *rlTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tp.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	tp.mu.Lock()
	tp.resp = rlResponse{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	tp.mu.Unlock()
	return resp, nil
}

func (tp *rlTap) last() rlResponse {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.resp
}

// rlProblem is a problem document.
type rlProblem struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Status int    `json:"status"`
}

func (r rlResponse) problem(t *testing.T) rlProblem {
	t.Helper()
	var p rlProblem
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("response %d is %q, not a problem document: %s", r.status, ct, r.body)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem document %s: %v", r.body, err)
	}
	return p
}

func rlHasHelpLink(h http.Header) bool {
	for _, l := range h.Values("Link") {
		if l == rlHelpLink {
			return true
		}
	}
	return false
}

// rlTimestamp matches the "retry after" timestamp of a 429 detail.
const rlTimestamp = `(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)`

// wantLimited checks that a client call failed with Boulder's 429: type,
// status, the detail detailFmt with a timestamp that agrees with
// Retry-After, Retry-After between retryIn and retryIn plus Boulder's 3 %
// jitter (rounded), and the help Link.
func (e *rlEnv) wantLimited(t *testing.T, err error, r rlResponse, detailFmt string, retryIn time.Duration) {
	t.Helper()
	if err == nil || r.status != http.StatusTooManyRequests {
		t.Fatalf("got %v, HTTP %d %s; want a 429", err, r.status, r.body)
	}
	p := r.problem(t)
	if p.Type != "urn:ietf:params:acme:error:rateLimited" || p.Status != http.StatusTooManyRequests {
		t.Errorf("problem type %q status %d, want rateLimited 429", p.Type, p.Status)
	}
	before, after, _ := strings.Cut(detailFmt, "%s")
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(before) + rlTimestamp + regexp.QuoteMeta(after) + `$`).FindStringSubmatch(p.Detail)
	if m == nil {
		t.Fatalf("detail %q\nwant   %q", p.Detail, detailFmt)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	lo, hi := int(retryIn.Round(time.Second)/time.Second), int((retryIn+retryIn*3/100).Round(time.Second)/time.Second)
	if err != nil || ra < lo || ra > hi {
		t.Errorf("Retry-After %q, want an integer in [%d, %d]", r.header.Get("Retry-After"), lo, hi)
	}
	at, err := time.Parse("2006-01-02 15:04:05 MST", m[1])
	// The timestamp is truncated to the second and Retry-After rounded.
	if want := e.clk.Now().Add(time.Duration(ra) * time.Second); err != nil || at.Sub(want).Abs() > 1500*time.Millisecond {
		t.Errorf("retry after %s, want %s (now + Retry-After) within 1.5s", m[1], want.UTC().Format(time.DateTime))
	}
	if !rlHasHelpLink(r.header) {
		t.Errorf("Link headers %q lack %s", r.header.Values("Link"), rlHelpLink)
	}
}

// mgmt calls the management API and decodes a 200 answer into out.
func (e *rlEnv) mgmt(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e2eContext(t), method, "https://"+e.inst.MgmtAddr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.mgmc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// exhaust empties a bucket over the management API.
func (e *rlEnv) exhaust(t *testing.T, limit, key string) {
	t.Helper()
	var b ratelimit.BucketState
	e.mgmt(t, http.MethodPost, "/rate-limits/exhaust", map[string]string{"limit": limit, "key": key}, &b)
	if b.Remaining != 0 {
		t.Fatalf("exhausted %s %s still has %d", limit, key, b.Remaining)
	}
}

// remaining is what the management API shows left in a bucket; -1 for a
// full bucket, which it does not list.
func (e *rlEnv) remaining(t *testing.T, key string) int64 {
	t.Helper()
	var list struct {
		Buckets []ratelimit.BucketState `json:"buckets"`
	}
	e.mgmt(t, http.MethodGet, "/rate-limits", nil, &list)
	for _, b := range list.Buckets {
		if b.Key == key {
			return b.Remaining
		}
	}
	return -1
}

// scrape reads the management listener's /metrics: series → value.
func (e *rlEnv) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := e.mgmc.Get("https://" + e.inst.MgmtAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// rlGetPage GETs an unpause page and returns its HTML.
func rlGetPage(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}
