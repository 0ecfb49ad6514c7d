package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's 429 detail texts (ratelimits/limiter.go Decision.Result, with the
// ": see <url>" suffix from errors/errors.go). The arguments are the
// limit's burst, [the identifier or domain,] its period as Go prints a
// Duration ("3h0m0s") and the retry-after timestamp.
const (
	detailRegistrationsPerIP = "too many new registrations (%d) from this IP address in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ip-address"
	detailRegistrationsPerIPv6Range = "too many new registrations (%d) from this /48 subnet of IPv6 addresses in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-registrations-per-ipv6-range"
	detailNewOrdersPerAccount = "too many new orders (%d) from this account in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"
	detailFailedAuthorizations = "too many failed authorizations (%d) for %q in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#authorization-failures-per-identifier-per-account"
	detailCertificatesPerDomain = "too many certificates (%d) already issued for %q in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain"
	detailCertificatesPerFQDNSet = "too many certificates (%d) already issued for this exact set of identifiers in the last %s, " +
		"retry after %s: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers"

	// retryAfterLayout formats the "retry after" timestamp (always UTC).
	retryAfterLayout = "2006-01-02 15:04:05 MST"

	// detailPaused is new-order's answer for paused identifiers
	// (wfe2/wfe.go NewOrder): the paused values joined by ", " and the
	// unpause URL with its JWT. 429 with no Retry-After.
	detailPaused = "Your account is temporarily prevented from requesting certificates for %s and possibly others. Please visit: %s"
	// detailPauseCheckFailed and detailUnpauseJWT are Boulder's
	// serverInternal details when the pause check cannot be made.
	detailPauseCheckFailed = "Failure while checking pause status of identifiers"
	detailUnpauseJWT       = "Error generating JWT for unpause portal"

	// detailServiceBusy is the body detail of Let's Encrypt's load balancer
	// when a per-endpoint request limit is exceeded (HTTP 503).
	detailServiceBusy = "Service busy; retry later."
	// bodyServiceBusy is that whole body, byte for byte.
	bodyServiceBusy = `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"` + detailServiceBusy + `"}`
)

// maxJitter is the largest fraction of retryIn added to Retry-After
// (Boulder adds 0–3 % against thundering herds).
const maxJitter = 0.03

// detailFor returns the 429 detail for a denied bucket. The quoted value
// is, as in Boulder, everything after the last ':' of the bucket key, so an
// IPv6 identifier or /64 shows only its last group ("/64").
// FailedAuthorizationsForPausingPerDomainPerAccount never produces a 429:
// it pauses instead.
func detailFor(name Name, key string, burst int64, period time.Duration, retryAt string) string {
	last := key[strings.LastIndexByte(key, ':')+1:]
	switch name {
	case NewRegistrationsPerIPAddress:
		return fmt.Sprintf(detailRegistrationsPerIP, burst, period, retryAt)
	case NewRegistrationsPerIPv6Range:
		return fmt.Sprintf(detailRegistrationsPerIPv6Range, burst, period, retryAt)
	case NewOrdersPerAccount:
		return fmt.Sprintf(detailNewOrdersPerAccount, burst, period, retryAt)
	case FailedAuthorizationsPerDomainPerAccount:
		return fmt.Sprintf(detailFailedAuthorizations, burst, last, period, retryAt)
	case CertificatesPerDomain, CertificatesPerDomainPerAccount:
		return fmt.Sprintf(detailCertificatesPerDomain, burst, last, period, retryAt)
	case CertificatesPerFQDNSet:
		return fmt.Sprintf(detailCertificatesPerFQDNSet, burst, period, retryAt)
	}
	return "cannot generate error for unknown rate limit"
}

// DeniedError is a refusal by one named limit: the problem the client sees
// (Problem, which errors.As and acme.As find) and the limit's Boulder name,
// for the event journal.
type DeniedError struct {
	Limit   Name
	Problem *acme.Error
}

// Error returns the problem's text.
func (e *DeniedError) Error() string { return e.Problem.Error() }

// Unwrap returns the problem.
func (e *DeniedError) Unwrap() error { return e.Problem }

// LimitOf returns the Boulder name of the limit that refused err, or ""
// when err is not a DeniedError (e.g. a request limit's 503).
func LimitOf(err error) string {
	var d *DeniedError
	if errors.As(err, &d) {
		return d.Limit.String()
	}
	return ""
}

// denial turns a denied decision into Boulder's 429: the detail, and a
// RetryAfter of retryIn plus jitter×3 % (jitter in [0,1)); the timestamp
// in the text includes the jitter too.
func denial(d decision, now time.Time, jitter float64) *DeniedError {
	retryAfter := d.retryIn + time.Duration(float64(d.retryIn)*maxJitter*jitter)
	at := now.UTC().Add(retryAfter).Format(retryAfterLayout)
	l := d.txn.lim
	return &DeniedError{Limit: l.name, Problem: &acme.Error{Type: acme.RateLimited, RetryAfter: retryAfter,
		Detail: detailFor(l.name, d.txn.key, l.burst, l.period, at)}}
}

// pausedError is new-order's 429 for paused identifiers, named after the
// limit that pauses them.
func pausedError(values []string, unpauseURL string) *DeniedError {
	return &DeniedError{Limit: FailedAuthorizationsForPausingPerDomainPerAccount, Problem: &acme.Error{
		Type: acme.RateLimited, Detail: fmt.Sprintf(detailPaused, strings.Join(values, ", "), unpauseURL)}}
}

// busyError is the load balancer's 503, with Retry-After rounded up to a
// whole second (at least one).
func busyError(retryIn time.Duration) *acme.Error {
	return &acme.Error{Type: acme.RateLimited, Status: 503, Detail: detailServiceBusy,
		RetryAfter: max(time.Second, (retryIn + time.Second - 1).Truncate(time.Second))}
}
