package ratelimit

import (
	"strings"
	"time"
)

// The presets Config.Preset accepts.
const (
	// PresetStaging mirrors Let's Encrypt staging (staging-environment.md).
	// It is the default.
	PresetStaging = "letsencrypt-staging"
	// PresetProduction mirrors Let's Encrypt production (rate-limits.md).
	PresetProduction = "letsencrypt-production"
	// PresetOff disables every limit; overrides still apply to their keys.
	PresetOff = "off"
)

// presetNames lists the presets for error messages.
func presetNames() string {
	return strings.Join([]string{PresetProduction, PresetStaging, PresetOff}, ", ")
}

// spec is a limit's numbers in Boulder's YAML shape: Burst requests at once,
// refilled at Count per Period.
type spec struct {
	Burst  int64
	Count  int64
	Period time.Duration
}

const week = 7 * 24 * time.Hour

// presetLimits returns a preset's default for every limit (zero spec: the
// limit is disabled) and whether the preset exists. Production numbers are
// from rate-limits.md, staging from staging-environment.md; the
// burst/count/period split is inferred from the docs' capacity and refill
// wording (LE's YAML is not public), see reference/letsencrypt.md §1.1–1.2.
func presetLimits(preset string) ([numNames]spec, bool) {
	var s [numNames]spec
	switch preset {
	case PresetProduction:
		s[NewRegistrationsPerIPAddress] = spec{10, 10, 3 * time.Hour}
		s[NewRegistrationsPerIPv6Range] = spec{500, 500, 3 * time.Hour}
		s[NewOrdersPerAccount] = spec{300, 300, 3 * time.Hour}
		s[FailedAuthorizationsPerDomainPerAccount] = spec{5, 5, time.Hour}
		s[CertificatesPerDomain] = spec{50, 50, week}
		s[CertificatesPerFQDNSet] = spec{5, 5, week}
		// 1,152 consecutive failures, refilling one a day.
		s[FailedAuthorizationsForPausingPerDomainPerAccount] = spec{1152, 1, 24 * time.Hour}
	case PresetStaging:
		s[NewRegistrationsPerIPAddress] = spec{50, 50, 3 * time.Hour}
		s[NewRegistrationsPerIPv6Range] = spec{500, 500, 3 * time.Hour}
		s[NewOrdersPerAccount] = spec{1500, 1500, 3 * time.Hour}
		s[FailedAuthorizationsPerDomainPerAccount] = spec{200, 200, time.Hour}
		// The page says "30000 per second", a typo for the week it said
		// before 2025.
		s[CertificatesPerDomain] = spec{30000, 30000, week}
		s[CertificatesPerFQDNSet] = spec{30000, 30000, week}
		// "3600 per 6 hours"; the burst/count split is not published.
		s[FailedAuthorizationsForPausingPerDomainPerAccount] = spec{3600, 3600, 6 * time.Hour}
	case PresetOff:
	default:
		return s, false
	}
	return s, true
}

// endpoint is a load-balancer request class (reference §1.3). To add one:
// append it before numEndpoints, then update endpointOf and
// presetRequestLimits.
type endpoint int

const (
	endpointNone endpoint = iota // not limited
	endpointNewNonce
	endpointNewAccount
	endpointNewOrder
	endpointRevokeCert
	endpointRenewalInfo
	endpointACME // any other /acme/ path
	endpointDirectory
	numEndpoints
)

// endpointOf classifies a request path, as Let's Encrypt's load balancer
// does (Boulder's paths; "/dir" is Pebble's directory alias).
func endpointOf(path string) endpoint {
	switch {
	case path == "/acme/new-nonce":
		return endpointNewNonce
	case path == "/acme/new-acct" || path == "/acme/new-account":
		return endpointNewAccount
	case path == "/acme/new-order":
		return endpointNewOrder
	case path == "/acme/revoke-cert":
		return endpointRevokeCert
	case path == "/acme/renewal-info" || strings.HasPrefix(path, "/acme/renewal-info/"):
		return endpointRenewalInfo
	case strings.HasPrefix(path, "/acme/"):
		return endpointACME
	case path == "/directory" || path == "/dir":
		return endpointDirectory
	}
	return endpointNone
}

// presetRequestLimits returns the per-IP request limits of a preset as
// {burst, requests per second, 1s}; a zero spec means unlimited.
func presetRequestLimits(preset string) [numEndpoints]spec {
	var s [numEndpoints]spec
	perSecond := func(rate, burst int64) spec { return spec{burst, rate, time.Second} }
	switch preset {
	case PresetProduction:
		s[endpointNewOrder] = perSecond(300, 200)
		s[endpointACME] = perSecond(250, 125)
	case PresetStaging:
		s[endpointNewOrder] = perSecond(20, 40)
		s[endpointACME] = perSecond(20, 20)
	default:
		return s
	}
	s[endpointNewNonce] = perSecond(20, 10)
	s[endpointNewAccount] = perSecond(5, 15)
	s[endpointRevokeCert] = perSecond(10, 100)
	s[endpointRenewalInfo] = perSecond(1000, 100)
	s[endpointDirectory] = perSecond(40, 40)
	return s
}
