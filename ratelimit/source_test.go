package ratelimit

import (
	"testing"
	"time"
)

// The Source, History and Pauses contracts are checked by
// ratelimittest.Run (conformance_test.go).

func TestIsRenewal(t *testing.T) {
	tests := map[string]struct {
		last, now time.Time
		want      bool
	}{
		"issued a second inside the window": {t0, t0.Add(renewalWindow - time.Second), true},
		"issued exactly 120 days ago":       {t0, t0.Add(renewalWindow), false},
		"never issued":                      {time.Time{}, t0, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isRenewal(tt.last, tt.now); got != tt.want {
				t.Errorf("isRenewal(%s, %s) = %v, want %v", tt.last, tt.now, got, tt.want)
			}
		})
	}
}
