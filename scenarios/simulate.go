package scenarios

import (
	"container/heap"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/client"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

const (
	day = 24 * time.Hour
	// problemPrefix starts every ACME problem type.
	problemPrefix = "urn:ietf:params:acme:error:"
)

// SimConfig configures Simulate.
//
// The simulated fleet is Certs cert-manager Certificates behind one
// ClusterIssuer, so one ACME account. Certificate n (from 0) is named
// c<n> and has the single DNS name c<n>.sim<n>.test: ".test" is a public
// suffix, so each sim<n>.test is its own registered domain and Let's
// Encrypt's per-domain limits (50 certificates per registered domain a
// week) do not deny a fleet of thousands. Every certificate uses
// cert-manager's default policy (renew at 2/3 of the lifetime, backoff 1 h
// doubling to 32 h, no ARI) and http-01 answered by AlwaysValid
// validation; faults make validation or any other step fail.
type SimConfig struct {
	// Certs is the number of certificates. Required (> 0).
	Certs int
	// Days is the simulated duration in days. Required (> 0).
	Days int
	// Preset is the rate-limit preset: production (default), staging or
	// off, or a ratelimit preset name (letsencrypt-production…).
	Preset string
	// Faults are the CA's fault rules, as the server's faults: section.
	// Rules with a probability draw from the CA's own randomness, so
	// they make a run non-deterministic.
	Faults faults.Config
	// Profile is the ACME profile each order asks for; empty uses the
	// CA's default (classic, 90 days).
	Profile string
	// Seed drives every random choice of the simulation: the time of day
	// each Certificate is created on day 0.
	Seed int64
	// Start is the fake clock's start. Required: it must be close to the
	// real time, because the CA's TLS serving certificate is dated from it.
	Start time.Time
}

// Reason counts the failed attempts with one ACME problem type.
type Reason struct {
	// Type is the problem type without its "urn:ietf:params:acme:error:"
	// prefix, or "client" for a failure with no problem document (an
	// attempt that timed out, a connection error).
	Type  string `json:"type"`
	Count int    `json:"count"`
	// Example is the first detail seen.
	Example string `json:"example"`
}

// Day is one simulated day's activity.
type Day struct {
	Day int `json:"day"`
	// Issuances counts every certificate issued, renewals included.
	Issuances int `json:"issuances"`
	Renewals  int `json:"renewals"`
	// Failures counts failed attempts, denials included.
	Failures int `json:"failures"`
	Denials  int `json:"denials"`
}

// Report is the outcome of Simulate. It holds no wall-clock or absolute
// times, so two runs with the same SimConfig but Start give equal
// reports.
type Report struct {
	Certs   int    `json:"certs"`
	Days    int    `json:"days"`
	Preset  string `json:"preset"`
	Profile string `json:"profile,omitempty"`
	Seed    int64  `json:"seed"`
	// Attempts counts every issuance attempt.
	Attempts int `json:"attempts"`
	// Issuances counts every certificate issued, renewals included.
	Issuances int `json:"issuances"`
	Renewals  int `json:"renewals"`
	// Failures counts failed attempts; Denials those failed with
	// rateLimited.
	Failures int `json:"failures"`
	Denials  int `json:"denials"`
	// Expired counts certificates that reached their notAfter while still
	// in use (not renewed in time), at most once per certificate issued.
	Expired int `json:"expired"`
	// NeverIssued counts Certificates with no certificate at the end.
	NeverIssued int `json:"neverIssued"`
	// MinRemaining is the least validity left on a certificate in use,
	// seen when it was replaced or at the end; negative after an expiry.
	// Rounded to the hour: how much fake time an attempt takes depends on
	// how many polls it needs, which varies by a few seconds from run to
	// run.
	MinRemaining time.Duration `json:"minRemaining"`
	// Reasons are the failures by problem type, most frequent first.
	Reasons  []Reason `json:"reasons,omitempty"`
	Timeline []Day    `json:"timeline"`
}

// simItem is one Certificate's next due time in the queue.
type simItem struct {
	at  time.Time
	idx int
}

// simQueue is a min-heap ordered by (time, certificate index).
type simQueue []simItem

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].idx < q[j].idx
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simItem)) }
func (q *simQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// SimPreset returns the ratelimit preset name of a --preset value.
func SimPreset(p string) (string, error) {
	switch p {
	case "", "production", ratelimit.PresetProduction:
		return ratelimit.PresetProduction, nil
	case "staging", ratelimit.PresetStaging:
		return ratelimit.PresetStaging, nil
	case ratelimit.PresetOff:
		return ratelimit.PresetOff, nil
	}
	return "", fmt.Errorf("unknown preset %q (want production, staging or off)", p)
}

// simScenario is the Scenario Simulate runs: the fleet, no timeline.
func simScenario(cfg SimConfig, preset string) *Scenario {
	s := &Scenario{Name: "simulate", File: "simulate",
		Server: Server{RateLimits: ratelimit.Config{Preset: preset}, Faults: cfg.Faults.Rules}}
	s.Certificates = make([]Certificate, cfg.Certs)
	for i := range s.Certificates {
		s.Certificates[i] = Certificate{Name: fmt.Sprintf("c%d", i),
			DNSNames: []string{fmt.Sprintf("c%d.sim%d.test", i, i)}, Challenge: client.ChallengeHTTP01,
			Profile: cfg.Profile}
	}
	return s
}

// Simulate runs an in-process CA and cfg.Certs cert-manager-like
// managers for cfg.Days on a fake clock. Each Certificate is created at
// a seeded random time on day 0; a min-heap of next due times, ordered
// by (time, certificate index), picks which manager acts next, and the
// clock jumps there. The error is for a simulation that could not run
// (bad config, the CA did not start, ctx ended).
func Simulate(ctx context.Context, cfg SimConfig) (Report, error) {
	preset, err := SimPreset(cfg.Preset)
	switch {
	case err != nil:
		return Report{}, err
	case cfg.Certs <= 0 || cfg.Days <= 0:
		return Report{}, errors.New("certs and days must be positive")
	case cfg.Start.IsZero():
		return Report{}, errors.New("scenarios: SimConfig.Start is required")
	}
	if err := cfg.Faults.Validate(); err != nil {
		return Report{}, err
	}
	r, err := newRun(ctx, simScenario(cfg, preset), Options{Start: cfg.Start})
	if err != nil {
		return Report{}, err
	}
	defer r.stopCA()
	sim := &simulation{r: r, end: cfg.Start.Add(time.Duration(cfg.Days) * day),
		rep: Report{Certs: cfg.Certs, Days: cfg.Days, Preset: preset, Profile: cfg.Profile, Seed: cfg.Seed,
			Timeline: make([]Day, cfg.Days)}, reasons: map[string]*Reason{}}
	for i := range sim.rep.Timeline {
		sim.rep.Timeline[i].Day = i
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0)) //nolint:gosec // a simulation, not security
	q := make(simQueue, cfg.Certs)
	for i := range q {
		q[i] = simItem{at: cfg.Start.Add(time.Duration(rng.Int64N(int64(day))).Truncate(time.Second)), idx: i}
	}
	heap.Init(&q)
	if err := sim.loop(ctx, &q); err != nil {
		return Report{}, err
	}
	return sim.report(), nil
}

// simulation accumulates a Report while the queue runs.
type simulation struct {
	r       *run
	end     time.Time
	rep     Report
	reasons map[string]*Reason
	seenMin bool
}

// loop pops the next due Certificate until the end, lets its manager act
// and queues it again.
func (s *simulation) loop(ctx context.Context, q *simQueue) error {
	clk := s.r.clk
	for q.Len() > 0 {
		it := heap.Pop(q).(simItem)
		if !it.at.Before(s.end) {
			break
		}
		if it.at.After(clk.Now()) {
			clk.SetTime(it.at)
		}
		m := s.r.certs[it.idx]
		old := m.leaf
		next, err := s.r.reconcile(ctx, m)
		if err != nil {
			return err
		}
		if next.IsZero() {
			s.record(m, old)
			next = clk.Now()
		}
		heap.Push(q, simItem{at: next, idx: it.idx})
	}
	if clk.Now().Before(s.end) {
		clk.SetTime(s.end)
	}
	return nil
}

// record counts the attempt m just made; old is its certificate before.
func (s *simulation) record(m *managed, old *x509.Certificate) {
	now := s.r.clk.Now()
	d := &s.rep.Timeline[min(int(now.Sub(s.r.start)/day), len(s.rep.Timeline)-1)]
	s.rep.Attempts++
	if m.err == nil {
		s.rep.Issuances++
		d.Issuances++
		if old != nil {
			s.rep.Renewals++
			d.Renewals++
			s.remaining(old, now)
		}
		return
	}
	s.rep.Failures++
	d.Failures++
	typ, detail := "client", m.err.Error()
	if p := client.Problem(m.err); p != nil {
		typ, detail = strings.TrimPrefix(p.ProblemType, problemPrefix), p.Detail
	}
	if typ == string(acme.RateLimited) {
		s.rep.Denials++
		d.Denials++
	}
	if rs := s.reasons[typ]; rs != nil {
		rs.Count++
	} else {
		s.reasons[typ] = &Reason{Type: typ, Count: 1, Example: detail}
	}
}

// remaining records the validity left on c at now.
func (s *simulation) remaining(c *x509.Certificate, now time.Time) {
	if !c.NotAfter.After(now) {
		s.rep.Expired++
	}
	left := c.NotAfter.Sub(now).Round(time.Hour)
	if !s.seenMin || left < s.rep.MinRemaining {
		s.rep.MinRemaining, s.seenMin = left, true
	}
}

// report finishes the Report at the end time.
func (s *simulation) report() Report {
	for _, m := range s.r.certs {
		if m.leaf == nil {
			s.rep.NeverIssued++
			continue
		}
		s.remaining(m.leaf, s.end)
	}
	for _, rs := range s.reasons {
		s.rep.Reasons = append(s.rep.Reasons, *rs)
	}
	sort.Slice(s.rep.Reasons, func(i, j int) bool {
		a, b := s.rep.Reasons[i], s.rep.Reasons[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Type < b.Type
	})
	return s.rep
}
