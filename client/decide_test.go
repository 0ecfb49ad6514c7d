package client

import (
	"errors"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	nb, na := t0, t0.Add(90*day) // due at day 60 by default
	failedAt := func(ago time.Duration, attempts int) RenewalState {
		return RenewalState{FailedIssuanceAttempts: attempts, LastFailureTime: t0.Add(65*day - ago)}
	}
	ari := func(start, end time.Duration) RenewalState {
		return RenewalState{ARI: &ARIState{Window: RenewalInfo{Start: nb.Add(start), End: nb.Add(end)}}}
	}
	tests := []struct {
		name       string
		now        time.Time
		noCert     bool
		policy     Policy
		state      RenewalState
		wantRenew  bool
		wantReason string
		wantMsg    string
		wantNext   time.Time
	}{
		{name: "no certificate: issue", now: t0, noCert: true, wantRenew: true, wantReason: ReasonDoesNotExist,
			wantMsg: "Issuing certificate as Secret does not exist"},
		{name: "day 59: not due", now: nb.Add(59 * day), wantReason: ReasonNotDue,
			wantMsg: "Certificate is up to date; renewal is scheduled at 2026-04-30 12:00:00 +0000 UTC", wantNext: nb.Add(60 * day)},
		{name: "day 60 exactly: renew", now: nb.Add(60 * day), wantRenew: true, wantReason: ReasonRenewing,
			wantMsg: "Renewing certificate as renewal was scheduled at 2026-04-30 12:00:00 +0000 UTC"},
		{name: "expired: renew", now: na.Add(day), wantRenew: true, wantReason: ReasonRenewing},
		{name: "1 failure 30 min ago: back off until 1 h after it", now: nb.Add(65 * day), state: failedAt(30*time.Minute, 1),
			wantReason: ReasonBackingOff, wantNext: nb.Add(65*day + 30*time.Minute),
			wantMsg: "Backing off from issuance due to previously failed issuance(s). Issuance will next be attempted at 2026-05-05 12:30:00 +0000 UTC"},
		{name: "1 failure 1 h ago: retry", now: nb.Add(65 * day), state: failedAt(time.Hour, 1), wantRenew: true, wantReason: ReasonRenewing},
		{name: "3 failures 3 h ago: back off 4 h", now: nb.Add(65 * day), state: failedAt(3*time.Hour, 3),
			wantReason: ReasonBackingOff, wantNext: nb.Add(65*day + time.Hour)},
		{name: "6 failures 31 h ago: 32 h cap not reached", now: nb.Add(65 * day), state: failedAt(31*time.Hour, 6),
			wantReason: ReasonBackingOff, wantNext: nb.Add(65*day + time.Hour)},
		{name: "9 failures 32 h ago: retry", now: nb.Add(65 * day), state: failedAt(32*time.Hour, 9), wantRenew: true, wantReason: ReasonRenewing},
		{name: "backoff applies without a certificate too", now: nb.Add(65 * day), noCert: true, state: failedAt(time.Minute, 2),
			wantReason: ReasonBackingOff, wantNext: nb.Add(65*day + 2*time.Hour - time.Minute)},
		{name: "ARI window open on day 30: renew before 2/3", now: nb.Add(30 * day), policy: Policy{UseARI: true},
			state: ari(29*day, 31*day), wantRenew: true, wantReason: ReasonRenewing},
		{name: "ARI window not open yet on day 61: wait", now: nb.Add(61 * day), policy: Policy{UseARI: true},
			state: ari(70*day, 71*day), wantReason: ReasonNotDue, wantNext: nb.Add(70*day + 12*time.Hour)},
		{name: "ARI ignored without UseARI (cert-manager's default gate)", now: nb.Add(30 * day),
			state: ari(29*day, 31*day), wantReason: ReasonNotDue, wantNext: nb.Add(60 * day)},
		{name: "ARI window of an older certificate falls back to 2/3", now: nb.Add(30 * day), policy: Policy{UseARI: true},
			state: ari(-time.Hour, time.Hour), wantReason: ReasonNotDue, wantNext: nb.Add(60 * day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Now: tt.now, NotBefore: nb, NotAfter: na, Policy: tt.policy, State: tt.state, ARIRandom: 0.5}
			if tt.noCert {
				in.NotBefore, in.NotAfter = time.Time{}, time.Time{}
			}
			d := Decide(in)
			if d.Renew != tt.wantRenew || d.Reason != tt.wantReason {
				t.Fatalf("Decide = %v %q (%s), want %v %q", d.Renew, d.Reason, d.Message, tt.wantRenew, tt.wantReason)
			}
			if tt.wantMsg != "" && d.Message != tt.wantMsg {
				t.Errorf("message = %q, want %q", d.Message, tt.wantMsg)
			}
			if !tt.wantNext.IsZero() && !d.NextAttempt.Equal(tt.wantNext) {
				t.Errorf("NextAttempt = %v, want %v", d.NextAttempt, tt.wantNext)
			}
		})
	}
}

func TestRenewalStateTransitions(t *testing.T) {
	s := RenewalState{}.Failed(t0, errors.New("429 rateLimited")).Failed(t0.Add(time.Hour), errors.New("500"))
	if s.FailedIssuanceAttempts != 2 || !s.LastFailureTime.Equal(t0.Add(time.Hour)) || s.LastError != "500" {
		t.Fatalf("after two failures: %+v", s)
	}
	if s = s.Succeeded(); s.FailedIssuanceAttempts != 0 || !s.LastFailureTime.IsZero() {
		t.Fatalf("after success: %+v", s)
	}
}
