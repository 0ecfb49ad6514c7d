package faults

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

func TestFromPebbleEnv(t *testing.T) {
	i := func(v int) *int { return &v }
	d := func(v time.Duration) *time.Duration { return &v }
	tests := []struct {
		name string
		env  map[string]string
		want PebbleSettings
		errs []string
	}{
		{name: "nothing set"},
		{name: "CI defaults", env: map[string]string{EnvNonceReject: "0", EnvVANoSleep: "1", EnvAlwaysValid: "tRuE", EnvAuthzReuse: "100"},
			want: PebbleSettings{NonceRejectPercent: i(0), VASleepMax: d(0), AlwaysValid: true, AuthzReusePercent: i(100)}},
		{name: "pebble's defaults spelled out", env: map[string]string{EnvNonceReject: "5", EnvVASleepTime: "5", EnvVANoSleep: "false", EnvAuthzReuse: "50"},
			want: PebbleSettings{NonceRejectPercent: i(5), VASleepMax: d(5 * time.Second), AuthzReusePercent: i(50)}},
		{name: "nosleep wins over sleeptime", env: map[string]string{EnvVASleepTime: "15", EnvVANoSleep: "true"},
			want: PebbleSettings{VASleepMax: d(0)}},
		{name: "bad values", env: map[string]string{EnvNonceReject: "101", EnvAuthzReuse: "half", EnvVASleepTime: "0",
			EnvVANoSleep: "yes", EnvAlwaysValid: "on"}, errs: []string{
			`PEBBLE_WFE_NONCEREJECT: "101" is not a percentage (an integer 0–100)`,
			`PEBBLE_AUTHZREUSE: "half" is not a percentage (an integer 0–100)`,
			`PEBBLE_VA_ALWAYS_VALID: "on" is not a boolean (1, true, 0 or false)`,
			`PEBBLE_VA_SLEEPTIME: "0" is not a number of seconds from 1 to 3600`,
			`PEBBLE_VA_NOSLEEP: "yes" is not a boolean (1, true, 0 or false)`,
		}},
		{name: "negative percentage", env: map[string]string{EnvNonceReject: "-1"}, errs: []string{
			`PEBBLE_WFE_NONCEREJECT: "-1" is not a percentage (an integer 0–100)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromPebbleEnv(func(k string) string { return tt.env[k] })
			if errs := lines(err); !slices.Equal(errs, tt.errs) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.errs, "\n"))
			}
			if err == nil && !equalSettings(got, tt.want) {
				t.Errorf("got %s, want %s", showSettings(got), showSettings(tt.want))
			}
		})
	}
}

func equalSettings(a, b PebbleSettings) bool { return showSettings(a) == showSettings(b) }

func showSettings(s PebbleSettings) string {
	var b strings.Builder
	if s.NonceRejectPercent != nil {
		b.WriteString("nonce=" + time.Duration(*s.NonceRejectPercent).String() + " ")
	}
	if s.VASleepMax != nil {
		b.WriteString("sleep=" + s.VASleepMax.String() + " ")
	}
	if s.AuthzReusePercent != nil {
		b.WriteString("reuse=" + time.Duration(*s.AuthzReusePercent).String() + " ")
	}
	if s.AlwaysValid {
		b.WriteString("alwaysValid")
	}
	return b.String()
}

func TestPebbleRules(t *testing.T) {
	s, err := FromPebbleEnv(func(k string) string {
		return map[string]string{EnvNonceReject: "100", EnvVASleepTime: "3", EnvAlwaysValid: "1"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	rules := s.Rules()
	if err := (Config{Rules: rules}).Validate(); err != nil {
		t.Fatal(err)
	}
	e, _ := newEngine(t, rules...)
	for _, op := range JWSOperations() {
		a, ok := e.Match(Request{Operation: op, Method: "POST"})
		if !ok || !a.BadNonce {
			t.Errorf("%s POST: %v %+v", op, ok, a)
		}
	}
	for _, req := range []Request{{Operation: OpNewNonce, Method: "HEAD"}, {Operation: OpDirectory, Method: "GET"}, {Operation: OpOrder, Method: "GET"}} {
		if _, ok := e.Match(req); ok {
			t.Errorf("%+v: badNonce", req)
		}
	}
	for range 20 {
		a, ok := e.Match(Request{Operation: OpValidation})
		if forced, verr := a.ValidationResult(); !ok || !forced || verr != nil || a.ValidationDelay < 0 || a.ValidationDelay >= 3*time.Second {
			t.Fatalf("validation: %v %+v", ok, a)
		}
	}
	// 5 %: roughly 5 in 100 POSTs.
	s5 := 5
	e5, _ := newEngine(t, PebbleSettings{NonceRejectPercent: &s5}.Rules()...)
	n := 0
	for range 2000 {
		if _, ok := e5.Match(Request{Operation: OpNewOrder, Method: "POST"}); ok {
			n++
		}
	}
	if n < 60 || n > 140 {
		t.Errorf("5%% rejected %d of 2000", n)
	}
	// Zero percent and nosleep make no rules.
	zero, nosleep := 0, time.Duration(0)
	if r := (PebbleSettings{NonceRejectPercent: &zero, VASleepMax: &nosleep}).Rules(); len(r) != 0 {
		t.Errorf("rules for nothing: %+v", r)
	}
	if r := (PebbleSettings{AlwaysValid: true}).Rules(); len(r) != 1 || r[0].Action.Validation != acme.StatusValid || r[0].Action.Jitter != 0 {
		t.Errorf("always valid: %+v", r)
	}
}
