package client

import (
	"fmt"
	"time"
)

// The renewal policy: when to renew and how long to back off, exactly as
// cert-manager v1.21 decides it (reference/cert-manager.md §2). Every
// function here is pure: time comes in as `now`, randomness as a number
// in [0, 1).

// Policy constants, with cert-manager's names and sources.
const (
	// DefaultMinBackoff and DefaultMaxBackoff bound the backoff after a
	// failed issuance: certificateRequestMinimumBackoffDuration (1 h) and
	// certificateRequestMaximumBackoffDuration (32 h).
	DefaultMinBackoff = time.Hour
	DefaultMaxBackoff = 32 * time.Hour
	// orderRetryBase and orderRetryMax are the order workqueue's per-item
	// exponential backoff for 5xx and network errors (DefaultACMERateLimiter).
	orderRetryBase = 5 * time.Second
	orderRetryMax  = 30 * time.Minute
	// nonceRetries and nonceMaxDelay are cert-manager's badNonce retry
	// (pkg/acme/util RetryBackoff): 5 retries, at most 3 s apart.
	nonceRetries  = 5
	nonceMaxDelay = 3 * time.Second
	// DefaultARIPoll, minARIPoll and maxARIPoll bound how often
	// renewal-info is fetched: Retry-After clamped to [1 h, 7 d], 6 h when
	// absent, ±10 % jitter (readiness_controller.go).
	DefaultARIPoll = 6 * time.Hour
	minARIPoll     = time.Hour
	maxARIPoll     = 7 * 24 * time.Hour
	ariJitter      = 0.1
)

// Decision reasons: cert-manager's policy reasons, plus BackingOff and
// NotDue for the two ways it decides not to issue.
const (
	ReasonDoesNotExist = "DoesNotExist"
	ReasonRenewing     = "Renewing"
	ReasonBackingOff   = "BackingOff"
	ReasonNotDue       = "NotDue"
)

// Messages cert-manager logs or sets; %v/%s take the times as it formats
// them (Go's time.Time String form, UTC).
const (
	msgDoesNotExist = "Issuing certificate as Secret does not exist"
	msgRenewing     = "Renewing certificate as renewal was scheduled at %s"
	msgBackingOff   = "Backing off from issuance due to previously failed issuance(s). Issuance will next be attempted at %v"
	msgNotDue       = "Certificate is up to date; renewal is scheduled at %s"
)

// Policy is a Certificate's renewal settings. The zero value is
// cert-manager's default: renew at 2/3 of the lifetime, no ARI, back off
// 1 h … 32 h.
type Policy struct {
	// RenewBefore (spec.renewBefore) renews this long before expiry when
	// 0 < RenewBefore < lifetime.
	RenewBefore time.Duration
	// RenewBeforePercentage (spec.renewBeforePercentage, v1.16+) renews
	// this percentage of the lifetime before expiry when in (0, 100) and
	// RenewBefore does not apply.
	RenewBeforePercentage int32
	// UseARI lets the server's ARI window decide (feature gate ACMEUseARI,
	// off by default in cert-manager, on in fakeca's renew).
	UseARI bool
	// MinBackoff and MaxBackoff bound the backoff after failures; zero
	// means DefaultMinBackoff / DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// RenewalState is what is remembered between attempts: the fields of a
// cert-manager Certificate's status that the policy reads. Plain data,
// meant to be stored as JSON next to the certificate.
type RenewalState struct {
	FailedIssuanceAttempts int       `json:"failedIssuanceAttempts,omitempty"`
	LastFailureTime        time.Time `json:"lastFailureTime,omitzero"`
	LastError              string    `json:"lastError,omitempty"`
	// ARI is the last renewal-info answer and when to ask again.
	ARI *ARIState `json:"ari,omitempty"`
}

// ARIState is cert-manager's status.acme.ari.
type ARIState struct {
	Window      RenewalInfo `json:"suggestedWindow"`
	LastChecked time.Time   `json:"lastChecked"`
	NextCheck   time.Time   `json:"nextCheck"`
}

// Failed records a failed issuance attempt at now.
func (s RenewalState) Failed(now time.Time, err error) RenewalState {
	s.FailedIssuanceAttempts++
	s.LastFailureTime = now
	s.LastError = err.Error()
	return s
}

// Succeeded clears the failure history after an issuance; the ARI state
// belonged to the old certificate and is dropped too.
func (s RenewalState) Succeeded() RenewalState { return RenewalState{} }

// RenewBefore is how long before expiry a certificate of the given
// lifetime is renewed: p.RenewBefore if 0 < it < lifetime, else
// p.RenewBeforePercentage of the lifetime if in (0, 100), else a third
// (renew at 2/3).
func RenewBefore(lifetime time.Duration, p Policy) time.Duration {
	switch {
	case p.RenewBefore > 0 && p.RenewBefore < lifetime:
		return p.RenewBefore
	case p.RenewBeforePercentage > 0 && p.RenewBeforePercentage < 100:
		return time.Duration(float64(lifetime) * float64(p.RenewBeforePercentage) / 100)
	}
	return lifetime / 3
}

// RenewalTime is when a certificate valid over [notBefore, notAfter] is
// due: notAfter − RenewBefore, truncated to the second.
func RenewalTime(notBefore, notAfter time.Time, p Policy) time.Time {
	return notAfter.Add(-RenewBefore(notAfter.Sub(notBefore), p)).Truncate(time.Second)
}

// ARIRenewalTime picks the scheduled renewal time inside an ARI window:
// start + r × (end − start), truncated to the second (cert-manager picks r
// with crypto/rand). An empty or inverted window gives start.
func ARIRenewalTime(start, end time.Time, r float64) time.Time {
	if !start.Before(end) {
		return start.Truncate(time.Second)
	}
	return start.Add(time.Duration(r * float64(end.Sub(start)))).Truncate(time.Second)
}

// IssuanceBackoff is the wait after the n-th consecutive failed issuance:
// min × 2^(n−1), at most max and at least min (1 h, 2 h, 4 h, 8 h, 16 h,
// 32 h, then 32 h for ever with the defaults). Zero min or max take the
// defaults; n ≤ 0 waits min.
func IssuanceBackoff(n int, minDelay, maxDelay time.Duration) time.Duration {
	if minDelay <= 0 {
		minDelay = DefaultMinBackoff
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxBackoff
	}
	if n <= 0 {
		return minDelay
	}
	d := maxDelay
	if n-1 < 62 && minDelay <= maxDelay>>(n-1) {
		d = minDelay << (n - 1)
	}
	return max(d, minDelay)
}

// OrderRetryDelay is the wait before the n-th retry (n ≥ 1) of a
// new-order that failed with a 5xx or a network error: 5 s × 2^(n−1),
// at most 30 min (5 s, 10 s, 20 s, … 21 min 20 s, then 30 min).
func OrderRetryDelay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n-1 >= 62 || orderRetryBase > orderRetryMax>>(n-1) {
		return orderRetryMax
	}
	return orderRetryBase << (n - 1)
}

// NonceRetryDelay is the wait before the n-th retry of a request that got
// badNonce: 2^(n−1) s plus jitter (in [0, 1 s)), at most 3 s, and −1 (no
// more retries) after the 5th, so at most 6 requests go out.
func NonceRetryDelay(n int, jitter time.Duration) time.Duration {
	if n > nonceRetries {
		return -1
	}
	if n < 1 {
		n = 1
	}
	return min(time.Duration(1<<(n-1))*time.Second+jitter, nonceMaxDelay)
}

// NextARICheck is when to fetch renewal-info again: retryAfter (6 h if
// absent) clamped to [1 h, 7 d], ±10 % jitter chosen by r in [0, 1).
func NextARICheck(now time.Time, retryAfter time.Duration, r float64) time.Time {
	d := retryAfter
	if d <= 0 {
		d = DefaultARIPoll
	}
	d = min(max(d, minARIPoll), maxARIPoll)
	jit := time.Duration(r*2*ariJitter*float64(d)) - time.Duration(ariJitter*float64(d))
	return now.Add(d + jit)
}

// NeedARIFetch reports whether renewal-info must be fetched again for a
// certificate issued at notBefore: never fetched, NextCheck reached, or
// last fetched for an older certificate.
func NeedARIFetch(s *ARIState, notBefore, now time.Time) bool {
	return s == nil || s.NextCheck.IsZero() || !now.Before(s.NextCheck) || s.LastChecked.Before(notBefore)
}

// Input is what Decide looks at.
type Input struct {
	Now time.Time
	// NotBefore and NotAfter are the current certificate's; a zero
	// NotAfter means there is no certificate.
	NotBefore, NotAfter time.Time
	Policy              Policy
	State               RenewalState
	// ARIRandom in [0, 1) picks the scheduled time inside the ARI window;
	// whether to renew does not depend on it.
	ARIRandom float64
}

// Decision is Decide's answer.
type Decision struct {
	Renew   bool
	Reason  string // ReasonDoesNotExist, ReasonRenewing, ReasonBackingOff or ReasonNotDue
	Message string
	// RenewalTime is when the certificate is due (status.renewalTime);
	// zero without a certificate.
	RenewalTime time.Time
	// NextAttempt is when to look again if Renew is false.
	NextAttempt time.Time
}

// Decide says whether to issue now, in cert-manager's order: back off
// after failures first (even for an expired or missing certificate), then
// issue if there is no certificate, then renew if due. With Policy.UseARI
// and an ARI window that starts after the certificate's NotBefore, due
// means "now is at or past the window start"; otherwise it means "now is
// at or past RenewalTime".
func Decide(in Input) Decision {
	if !in.State.LastFailureTime.IsZero() {
		delay := IssuanceBackoff(in.State.FailedIssuanceAttempts, in.Policy.MinBackoff, in.Policy.MaxBackoff)
		if since := in.Now.Sub(in.State.LastFailureTime); since < delay {
			next := in.Now.Add(delay - since)
			return Decision{Reason: ReasonBackingOff, Message: fmt.Sprintf(msgBackingOff, next.UTC()), NextAttempt: next,
				RenewalTime: renewalTime(in)}
		}
	}
	if in.NotAfter.IsZero() {
		return Decision{Renew: true, Reason: ReasonDoesNotExist, Message: msgDoesNotExist}
	}
	rt := renewalTime(in)
	due := !in.Now.Before(rt)
	if ari := in.State.ARI; in.Policy.UseARI && ari != nil && ari.Window.Start.After(in.NotBefore) {
		due = !in.Now.Before(ari.Window.Start)
	}
	if due {
		return Decision{Renew: true, Reason: ReasonRenewing, Message: fmt.Sprintf(msgRenewing, rt.UTC()), RenewalTime: rt}
	}
	return Decision{Reason: ReasonNotDue, Message: fmt.Sprintf(msgNotDue, rt.UTC()), RenewalTime: rt, NextAttempt: rt}
}

// renewalTime is status.renewalTime: a point in the ARI window when it
// applies, else RenewalTime.
func renewalTime(in Input) time.Time {
	if in.NotAfter.IsZero() {
		return time.Time{}
	}
	if ari := in.State.ARI; in.Policy.UseARI && ari != nil && ari.Window.Start.After(in.NotBefore) &&
		!ari.Window.End.IsZero() {
		return ARIRenewalTime(ari.Window.Start, ari.Window.End, in.ARIRandom)
	}
	return RenewalTime(in.NotBefore, in.NotAfter, in.Policy)
}
