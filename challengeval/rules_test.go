package challengeval

import (
	"context"
	"runtime"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

func TestRulesForIdentifier(t *testing.T) {
	yes, no := true, false
	slow := DelayRange{Min: 5 * time.Second}
	slower := DelayRange{Min: 10 * time.Second, Max: 20 * time.Second}
	cfg := Config{AlwaysValid: true, Delay: DelayRange{Min: time.Second}, Rules: []Rule{
		{Pattern: "*.test", Delay: &slow},
		{Pattern: "*.real.test", AlwaysValid: &no},
		{Pattern: "exact.real.test", Delay: &slower},
		{Pattern: "EXACT.real.test.", AlwaysValid: &yes}, // a duplicate: the first wins
		{Pattern: "::1", AlwaysValid: &no},
		{Pattern: "192.0.2.1", Delay: &slower},
	}}
	r := compileRules(cfg)
	dnsID := func(v string) acme.Identifier { return acme.Identifier{Type: acme.TypeDNS, Value: v} }
	tests := []struct {
		name string
		id   acme.Identifier
		want behaviour
	}{
		{"no rule: the defaults", dnsID("example.com"), behaviour{alwaysValid: true, delay: DelayRange{Min: time.Second}}},
		{"wildcard rule sets the delay only", dnsID("a.b.test"), behaviour{alwaysValid: true, delay: slow}},
		{"wildcard does not match its suffix", dnsID("test"), behaviour{alwaysValid: true, delay: DelayRange{Min: time.Second}}},
		{"longer wildcard wins", dnsID("x.real.test"), behaviour{alwaysValid: false, delay: DelayRange{Min: time.Second}}},
		{"exact wins over wildcards", dnsID("Exact.Real.Test"), behaviour{alwaysValid: true, delay: slower}},
		{"wildcard identifier matched by its base", dnsID("*.x.real.test"), behaviour{alwaysValid: false, delay: DelayRange{Min: time.Second}}},
		{"IPv6 rule in another spelling", acme.Identifier{Type: acme.TypeIP, Value: "0:0::1"}, behaviour{alwaysValid: false, delay: DelayRange{Min: time.Second}}},
		{"IPv4 rule", acme.Identifier{Type: acme.TypeIP, Value: "192.0.2.1"}, behaviour{alwaysValid: true, delay: slower}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.forIdentifier(tt.id); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// waitForTimer returns once the Validator under test waits on clk.
func waitForTimer(clk *clocktesting.FakeClock) {
	for !clk.HasWaiters() {
		runtime.Gosched()
	}
}

// startValidate runs Validate in the background; the channel yields its
// result.
func startValidate(ctx context.Context, v *Validator, req Request) <-chan error {
	done := make(chan error, 1)
	go func() { done <- v.Validate(ctx, req) }()
	return done
}

func TestValidationDelay(t *testing.T) {
	no := false
	fixed := DelayRange{Min: 3 * time.Second}
	z := newZone(t) // NXDOMAIN for everything: real validations fail
	addr := startDNS(t, z)
	const nxDetail = "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.a.real.test - check that a DNS record exists for this domain"
	tests := []struct {
		name       string
		cfg        Config
		domain     string
		steps      []time.Duration // each must leave the validation waiting
		last       time.Duration   // releases it
		wantType   acme.ErrorType
		wantDetail string
	}{
		{name: "global delay", cfg: Config{AlwaysValid: true, Delay: DelayRange{Min: 2 * time.Second}},
			domain: "a.test", steps: []time.Duration{time.Second, time.Second - 1}, last: 1},
		{name: "range: not before min, always by max", cfg: Config{AlwaysValid: true, Delay: DelayRange{Min: time.Second, Max: 3 * time.Second}},
			domain: "a.test", steps: []time.Duration{time.Second - 1}, last: 2*time.Second + 1},
		{name: "per-pattern delay", cfg: Config{AlwaysValid: true, Rules: []Rule{{Pattern: "*.slow.test", Delay: &fixed}}},
			domain: "a.slow.test", steps: []time.Duration{3*time.Second - 1}, last: 1},
		{name: "per-pattern real validation after the global delay",
			cfg:    Config{AlwaysValid: true, Delay: DelayRange{Min: time.Minute}, Rules: []Rule{{Pattern: "*.real.test", AlwaysValid: &no}}},
			domain: "a.real.test", steps: []time.Duration{59 * time.Second}, last: time.Second,
			wantType: acme.DNS, wantDetail: nxDetail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Resolvers = []string{addr}
			v, clk := newValidatorClock(t, tt.cfg)
			done := startValidate(t.Context(), v, Request{Type: acme.ChallengeDNS01, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: tt.domain}})
			waitForTimer(clk)
			for _, d := range tt.steps {
				clk.Step(d)
				if !clk.HasWaiters() {
					t.Fatalf("validation stopped waiting after %s", clk.Since(testNow))
				}
			}
			clk.Step(tt.last)
			checkProblem(t, <-done, tt.wantType, tt.wantDetail)
		})
	}
}

func TestValidationWithoutDelayDoesNotWait(t *testing.T) {
	yes := true
	fixed := DelayRange{Min: time.Hour}
	v, clk := newValidatorClock(t, Config{Resolvers: []string{"127.0.0.1:1"},
		Rules: []Rule{{Pattern: "*.slow.test", Delay: &fixed, AlwaysValid: &yes}, {Pattern: "*.fast.test", AlwaysValid: &yes}}})
	err := v.Validate(t.Context(), Request{Type: acme.ChallengeHTTP01, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.fast.test"}})
	checkProblem(t, err, "", "")
	if clk.HasWaiters() {
		t.Error("a validation without delay set a timer")
	}
}

func TestValidationDelayCanceled(t *testing.T) {
	v, clk := newValidatorClock(t, Config{AlwaysValid: true, Delay: DelayRange{Min: time.Hour}})
	ctx, cancel := context.WithCancel(t.Context())
	done := startValidate(ctx, v, Request{Type: acme.ChallengeHTTP01, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}})
	waitForTimer(clk)
	cancel()
	checkProblem(t, <-done, acme.Connection, "Error getting validation data")
	if clk.HasWaiters() {
		t.Error("the delay's timer was not stopped")
	}
}
