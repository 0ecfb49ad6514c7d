package faults

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// The Pebble environment variables FromPebbleEnv reads
// (shared/reference/pebble.md §2).
const (
	EnvNonceReject = "PEBBLE_WFE_NONCEREJECT"
	EnvVANoSleep   = "PEBBLE_VA_NOSLEEP"
	EnvVASleepTime = "PEBBLE_VA_SLEEPTIME"
	EnvAlwaysValid = "PEBBLE_VA_ALWAYS_VALID"
	EnvAuthzReuse  = "PEBBLE_AUTHZREUSE"
)

// Names of the rules PebbleSettings.Rules makes.
const (
	RuleNonceReject = "pebble-nonce-reject"
	RuleVA          = "pebble-va"
)

// PebbleSettings are the Pebble environment variables that fakeca honours,
// as parsed by FromPebbleEnv. A nil field means the variable was not set,
// so fakeca's own behaviour applies. Plain data.
type PebbleSettings struct {
	// NonceRejectPercent (PEBBLE_WFE_NONCEREJECT, 0–100) is the share of
	// valid nonces rejected with badNonce. Pebble's default is 5; fakeca's,
	// like Let's Encrypt's, is 0.
	NonceRejectPercent *int
	// VASleepMax bounds the random wait before each validation: Pebble
	// waits [0, PEBBLE_VA_SLEEPTIME) seconds (default 5); PEBBLE_VA_NOSLEEP
	// makes it 0.
	VASleepMax *time.Duration
	// AlwaysValid (PEBBLE_VA_ALWAYS_VALID) makes every validation succeed
	// without a network request.
	AlwaysValid bool
	// AuthzReusePercent (PEBBLE_AUTHZREUSE, 0–100) is the chance that a
	// valid authorization is reused by a new order. Not a fault: the
	// integrator maps it to ca's setting. (Pebble's test, rand.Intn(100) >
	// percent, reuses 1 % more often than it says.)
	AuthzReusePercent *int
}

// FromPebbleEnv reads the Pebble variables through getenv (os.Getenv in
// cmd; only cmd reads the environment). Unlike Pebble, which clamps or
// ignores bad values, it returns an error naming each bad variable.
func FromPebbleEnv(getenv func(string) string) (PebbleSettings, error) {
	var s PebbleSettings
	var errs []error
	bad := func(name, v, want string) {
		errs = append(errs, fmt.Errorf("%s: %q is not %s", name, v, want))
	}
	percent := func(name string) *int {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			bad(name, v, "a percentage (an integer 0–100)")
			return nil
		}
		return &n
	}
	flag := func(name string) (on, set bool) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return false, false
		}
		b, err := strconv.ParseBool(strings.ToLower(v)) // Pebble: "true" in any case
		if err != nil {
			bad(name, v, "a boolean (1, true, 0 or false)")
		}
		return b, err == nil
	}
	s.NonceRejectPercent = percent(EnvNonceReject)
	s.AuthzReusePercent = percent(EnvAuthzReuse)
	s.AlwaysValid, _ = flag(EnvAlwaysValid)
	if v := strings.TrimSpace(getenv(EnvVASleepTime)); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 3600 {
			bad(EnvVASleepTime, v, "a number of seconds from 1 to 3600")
		} else {
			d := time.Duration(n) * time.Second
			s.VASleepMax = &d
		}
	}
	if noSleep, _ := flag(EnvVANoSleep); noSleep {
		var zero time.Duration
		s.VASleepMax = &zero
	}
	return s, errors.Join(errs...)
}

// Rules returns the fault rules equivalent to s, to append to the
// configured ones: RuleNonceReject (badNonce on JWS POSTs with the given
// probability, seed 0) and RuleVA (validation waits [0, VASleepMax) and/or
// is forced valid). Both are ordinary rules: listed, counted and deletable
// through the management API.
func (s PebbleSettings) Rules() []Rule {
	var out []Rule
	if p := s.NonceRejectPercent; p != nil && *p > 0 {
		out = append(out, Rule{Name: RuleNonceReject,
			Match:  Match{Operations: JWSOperations(), Method: "POST", Probability: float64(*p) / 100},
			Action: Action{BadNonce: true}})
	}
	va := Action{}
	if s.VASleepMax != nil {
		va.Jitter = *s.VASleepMax
	}
	if s.AlwaysValid {
		va.Validation = acme.StatusValid
	}
	if va != (Action{}) {
		out = append(out, Rule{Name: RuleVA, Match: Match{Operation: OpValidation}, Action: va})
	}
	return out
}
