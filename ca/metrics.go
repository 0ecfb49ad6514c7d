package ca

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ratelimit"
)

// Metric label values that are not free text.
const (
	// Order states of fakeca_orders_total. An order made invalid by a
	// failed authorization is not counted here (its status is derived when
	// read): see fakeca_authorizations_total{state="invalid"}.
	orderCreated = "created" // a new order was stored
	orderReused  = "reused"  // new-order answered with an existing order
	orderValid   = "valid"   // its certificate was issued
	orderInvalid = "invalid" // its issuance failed

	// Authorization states of fakeca_authorizations_total.
	authzValid       = "valid"
	authzInvalid     = "invalid"
	authzDeactivated = "deactivated"

	// Outcomes of fakeca_ratelimit_decisions_total.
	outcomeAllowed = "allowed"
	outcomeDenied  = "denied"

	// endpointNotFound labels requests to no ACME route.
	endpointNotFound = "not-found"
	// methodOther labels requests with a method other than GET, HEAD, POST,
	// so that clients cannot create label values at will.
	methodOther = "OTHER"
)

// Metrics are the CA's Prometheus metrics: requests by endpoint with their
// latency, orders and authorizations by final state, validations,
// certificates issued and revoked, rate-limit decisions and fault firings.
// Build it with NewMetrics and pass it as Deps.Metrics. A nil *Metrics is
// valid and records nothing. Safe for concurrent use.
//
// Metrics (all counters but the histogram):
//
//	fakeca_http_requests_total{endpoint,method,code}       ACME requests, by route name ("new-order"); code 0: connection dropped
//	fakeca_http_request_duration_seconds{endpoint}          their latency (wall time)
//	fakeca_orders_total{state}                              created, reused, valid, invalid
//	fakeca_authorizations_total{state}                      valid, invalid, deactivated
//	fakeca_validations_total{challenge,result,problem}      result valid or invalid; problem is the ACME type ("connection") or ""
//	fakeca_certificates_issued_total{profile,issuer}        profile name, issuer ID
//	fakeca_certificates_revoked_total{reason,issuer}        RFC 5280 reason name, issuer ID
//	fakeca_ratelimit_decisions_total{limit,outcome}         Boulder limit name; allowed or denied
//	fakeca_fault_hits_total{rule}                           fault rule name
type Metrics struct {
	// wall times request latency: the one use of wall time the house rules
	// allow outside cmd/, so a fake clock never distorts the histograms.
	wall        clock.RealClock
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	orders      *prometheus.CounterVec
	authzs      *prometheus.CounterVec
	validations *prometheus.CounterVec
	issued      *prometheus.CounterVec
	revoked     *prometheus.CounterVec
	rateLimits  *prometheus.CounterVec
	faults      *prometheus.CounterVec
}

// NewMetrics creates the CA's metrics and registers them with reg, which
// must not be nil. Use one registry per server (never the global default
// one): registering twice with the same registry fails.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("ca.NewMetrics: a Registerer is required")
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fakeca", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		requests: counter("http_requests_total", "ACME requests by endpoint, method and HTTP status.",
			"endpoint", "method", "code"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "fakeca",
			Name: "http_request_duration_seconds", Help: "ACME request latency by endpoint (wall time).",
			Buckets: prometheus.DefBuckets}, []string{"endpoint"}),
		orders: counter("orders_total", "Orders by state reached: created, reused, valid (issued), invalid (issuance failed).",
			"state"),
		authzs: counter("authorizations_total", "Authorizations by final state: valid, invalid, deactivated.", "state"),
		validations: counter("validations_total", "Challenge validations by challenge type, result and ACME problem type.",
			"challenge", "result", "problem"),
		issued:     counter("certificates_issued_total", "Certificates issued by profile and issuer.", "profile", "issuer"),
		revoked:    counter("certificates_revoked_total", "Certificates revoked by reason and issuer.", "reason", "issuer"),
		rateLimits: counter("ratelimit_decisions_total", "Rate-limit decisions by limit and outcome.", "limit", "outcome"),
		faults:     counter("fault_hits_total", "Fault-injection rule firings by rule.", "rule"),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.orders, m.authzs, m.validations,
		m.issued, m.revoked, m.rateLimits, m.faults} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Show the fixed states at zero before they first happen.
	for _, s := range []string{orderCreated, orderReused, orderValid, orderInvalid} {
		m.orders.WithLabelValues(s)
	}
	for _, s := range []string{authzValid, authzInvalid, authzDeactivated} {
		m.authzs.WithLabelValues(s)
	}
	return m, nil
}

// RateLimitDecision counts one rate-limit decision; it has the shape of
// ratelimit.Deps.Observer. Spend-only transactions (issuance, failed
// validations) are counted too, as the limiter reports them.
func (m *Metrics) RateLimitDecision(limit ratelimit.Name, allowed bool) {
	if m == nil {
		return
	}
	outcome := outcomeDenied
	if allowed {
		outcome = outcomeAllowed
	}
	m.rateLimits.WithLabelValues(limit.String(), outcome).Inc()
}

// FaultFired counts one firing of the fault-injection rule named rule.
func (m *Metrics) FaultFired(rule string) {
	if m != nil {
		m.faults.WithLabelValues(rule).Inc()
	}
}

// requestStart is when a request began, for its latency: wall time, the
// one use of it allowed outside cmd/.
func (m *Metrics) requestStart() time.Time {
	if m == nil {
		return time.Time{}
	}
	return m.wall.Now()
}

// request counts one finished request to an ACME endpoint; endpoint ""
// (a request that reached no ACME route, e.g. on the management listener)
// is not counted. status is 0 when no response was written: every ACME
// handler writes one, so that is a connection a fault dropped or reset.
func (m *Metrics) request(endpoint, method string, status int, start time.Time) {
	if m == nil || endpoint == "" {
		return
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		method = methodOther
	}
	m.requests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(endpoint).Observe(m.wall.Since(start).Seconds())
}

// order counts an order reaching state.
func (m *Metrics) order(state string) {
	if m != nil {
		m.orders.WithLabelValues(state).Inc()
	}
}

// deactivated counts a deactivated authorization.
func (m *Metrics) deactivated() {
	if m != nil {
		m.authzs.WithLabelValues(authzDeactivated).Inc()
	}
}

// validation counts a recorded validation of a challenge type and the
// authorization it decided; verr is the validation's error, nil if valid.
func (m *Metrics) validation(challenge string, verr error) {
	if m == nil {
		return
	}
	result, problem := authzValid, ""
	if verr != nil {
		result, problem = authzInvalid, string(storedProblem(verr).Type)
	}
	m.validations.WithLabelValues(challenge, result, problem).Inc()
	m.authzs.WithLabelValues(result).Inc()
}

// issuedCert counts an issued certificate and its order becoming valid.
func (m *Metrics) issuedCert(profile, issuer string) {
	if m == nil {
		return
	}
	m.issued.WithLabelValues(profile, issuer).Inc()
	m.orders.WithLabelValues(orderValid).Inc()
}

// revokedCert counts a revocation with its RFC 5280 reason code.
func (m *Metrics) revokedCert(reason int, issuer string) {
	if m != nil {
		m.revoked.WithLabelValues(reasonName(reason), issuer).Inc()
	}
}

// reasonName is the RFC 5280 name of a reason a subscriber may give.
func reasonName(reason int) string {
	switch reason {
	case reasonUnspecified:
		return "unspecified"
	case reasonKeyCompromise:
		return "keyCompromise"
	case reasonSuperseded:
		return "superseded"
	case reasonCessationOfOperation:
		return "cessationOfOperation"
	}
	return strconv.Itoa(reason)
}

// named labels the requests h serves with the endpoint of route (a path
// pattern of routes(); "" for the not-found handler) for the metrics.
func named(route string, h http.Handler) http.Handler {
	name := endpointName(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ev := eventFrom(r); ev != nil {
			ev.endpoint = name
		}
		h.ServeHTTP(w, r)
	})
}

// endpointName maps a route's path pattern to its endpoint label, the
// names the faults package uses for operations ("new-order").
func endpointName(route string) string {
	switch route {
	case pathDirectory, pathPebbleDir:
		return "directory"
	case pathNewNonce:
		return "new-nonce"
	case pathNewAccount:
		return "new-account"
	case pathNewOrder:
		return "new-order"
	case pathRevoke:
		return "revoke"
	case pathKeyChange:
		return "key-change"
	}
	for _, p := range []struct{ prefix, name string }{
		{pathAccount, "account"}, {pathOrder, "order"}, {pathAuthz, "authz"}, {pathChallenge, "challenge"},
		{pathFinalize, "finalize"}, {pathCert, "certificate"}, {pathRenewalInfo + "/", "renewal-info"},
		{pathOrders, "list-orders"},
	} {
		if strings.HasPrefix(route, p.prefix) {
			return p.name
		}
	}
	return endpointNotFound
}
