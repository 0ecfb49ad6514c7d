package client

import (
	"testing"
	"time"
)

// The numbers below are reference/cert-manager.md §2 and
// reference/letsencrypt.md §6, quoted.

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func TestRenewalTime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		policy   Policy
		want     time.Duration // after notBefore
	}{
		{"90 d cert renews at 2/3 (lifetime/3 before expiry): day 60", 90 * day, Policy{}, 60 * day},
		{"45 d cert: day 30", 45 * day, Policy{}, 30 * day},
		{"160 h shortlived cert: 106 h 40 min", 160 * time.Hour, Policy{}, 106*time.Hour + 40*time.Minute},
		{"renewBefore 0<rb<lifetime wins: 30 d before a 90 d expiry", 90 * day, Policy{RenewBefore: 30 * day}, 60 * day},
		{"renewBefore 10 d", 90 * day, Policy{RenewBefore: 10 * day}, 80 * day},
		{"renewBefore >= lifetime is ignored (falls back to 1/3)", 90 * day, Policy{RenewBefore: 90 * day}, 60 * day},
		{"renewBeforePercentage 50 of 90 d: day 45", 90 * day, Policy{RenewBeforePercentage: 50}, 45 * day},
		{"renewBeforePercentage 100 is out of (0,100): default", 90 * day, Policy{RenewBeforePercentage: 100}, 60 * day},
		{"renewBefore beats renewBeforePercentage", 90 * day, Policy{RenewBefore: 5 * day, RenewBeforePercentage: 50}, 85 * day},
		{"result truncated to the second", 10*time.Second + 500*time.Millisecond, Policy{}, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenewalTime(t0, t0.Add(tt.lifetime), tt.policy)
			if want := t0.Add(tt.want); !got.Equal(want) {
				t.Errorf("RenewalTime = %v, want %v", got, want)
			}
		})
	}
}

func TestIssuanceBackoff(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		min, max time.Duration
		want     time.Duration
	}{
		{"attempt 1: 1 h", 1, 0, 0, time.Hour},
		{"attempt 2: 2 h", 2, 0, 0, 2 * time.Hour},
		{"attempt 3: 4 h", 3, 0, 0, 4 * time.Hour},
		{"attempt 4: 8 h", 4, 0, 0, 8 * time.Hour},
		{"attempt 5: 16 h", 5, 0, 0, 16 * time.Hour},
		{"attempt 6: 32 h", 6, 0, 0, 32 * time.Hour},
		{"attempt 7: 32 h for ever", 7, 0, 0, 32 * time.Hour},
		{"attempt 100: 32 h, no overflow", 100, 0, 0, 32 * time.Hour},
		{"no attempts recorded: min", 0, 0, 0, time.Hour},
		{"configured min 5 min, attempt 4: 40 min", 4, 5 * time.Minute, 0, 40 * time.Minute},
		{"configured max 3 h caps attempt 3", 3, time.Hour, 3 * time.Hour, 3 * time.Hour},
		{"min above max: min", 2, 2 * time.Hour, time.Hour, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IssuanceBackoff(tt.attempts, tt.min, tt.max); got != tt.want {
				t.Errorf("IssuanceBackoff(%d) = %v, want %v", tt.attempts, got, tt.want)
			}
		})
	}
}

func TestOrderRetryDelay(t *testing.T) {
	tests := map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second,
		9: 21*time.Minute + 20*time.Second, 10: 30 * time.Minute, 1000: 30 * time.Minute, 0: 5 * time.Second}
	for n, want := range tests {
		if got := OrderRetryDelay(n); got != want {
			t.Errorf("OrderRetryDelay(%d) = %v, want %v (5 s → 30 min)", n, got, want)
		}
	}
}

func TestNonceRetryDelay(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		jitter time.Duration
		want   time.Duration
	}{
		{"retry 1: 1 s", 1, 0, time.Second},
		{"retry 1 with jitter", 1, 999 * time.Millisecond, 1999 * time.Millisecond},
		{"retry 2: 2 s", 2, 0, 2 * time.Second},
		{"retry 3: capped at 3 s", 3, 500 * time.Millisecond, 3 * time.Second},
		{"retry 5: 3 s", 5, 0, 3 * time.Second},
		{"retry 6: give up (6 POSTs in all)", 6, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NonceRetryDelay(tt.n, tt.jitter); got != tt.want {
				t.Errorf("NonceRetryDelay(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestNextARICheck(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		r          float64
		want       time.Duration
	}{
		{"no Retry-After: 6 h", 0, 0.5, 6 * time.Hour},
		{"jitter -10 %", 0, 0, 6*time.Hour - 36*time.Minute},
		{"Boulder's 6 h Retry-After", 6 * time.Hour, 0.5, 6 * time.Hour},
		{"below 1 h clamps to 1 h", 10 * time.Minute, 0.5, time.Hour},
		{"above 7 d clamps to 7 d", 30 * day, 0.5, 7 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NextARICheck(t0, tt.retryAfter, tt.r).Sub(t0); got != tt.want {
				t.Errorf("NextARICheck = now+%v, want now+%v", got, tt.want)
			}
		})
	}
}

func TestARIRenewalTime(t *testing.T) {
	start, end := t0, t0.Add(43*time.Hour+12*time.Minute) // Boulder's 90 d window: ±21.6 h
	tests := []struct {
		name string
		r    float64
		want time.Time
	}{
		{"r=0 is the start", 0, start},
		{"r=0.5 is the middle", 0.5, start.Add(21*time.Hour + 36*time.Minute)},
		{"inverted window gives the start", 0.5, start},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := end
			if i == 2 {
				e = start.Add(-time.Hour)
			}
			if got := ARIRenewalTime(start, e, tt.r); !got.Equal(tt.want) {
				t.Errorf("ARIRenewalTime = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNeedARIFetch(t *testing.T) {
	nb := t0
	tests := []struct {
		name string
		s    *ARIState
		now  time.Time
		want bool
	}{
		{"never fetched", nil, t0, true},
		{"next check in the future", &ARIState{LastChecked: t0.Add(time.Hour), NextCheck: t0.Add(7 * time.Hour)}, t0.Add(2 * time.Hour), false},
		{"next check reached", &ARIState{LastChecked: t0.Add(time.Hour), NextCheck: t0.Add(7 * time.Hour)}, t0.Add(7 * time.Hour), true},
		{"fetched for an older certificate", &ARIState{LastChecked: t0.Add(-time.Hour), NextCheck: t0.Add(5 * time.Hour)}, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedARIFetch(tt.s, nb, tt.now); got != tt.want {
				t.Errorf("NeedARIFetch = %v, want %v", got, tt.want)
			}
		})
	}
}
