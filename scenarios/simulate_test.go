package scenarios

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/faults"
)

// TestSimulateFaultFree checks the counts against an independent
// calculation: a 90-day classic certificate renewed at 2/3 of its
// lifetime is renewed every 60 days (a little less: notBefore is
// backdated about an hour), and each Certificate is created during day 0,
// so over D days it is issued at days 0, 60, 120, … below D:
// 1 + ⌊(D−1)/60⌋ issuances, all but the first renewals (365 days: 7, i.e.
// 6 renewals a year).
func TestSimulateFaultFree(t *testing.T) {
	tests := []struct{ certs, days int }{{certs: 20, days: 365}, {certs: 5, days: 200}, {certs: 3, days: 30}}
	for _, tt := range tests {
		rep, err := Simulate(context.Background(), SimConfig{Certs: tt.certs, Days: tt.days, Profile: "classic",
			Seed: 1, Start: testStart()})
		if err != nil {
			t.Fatal(err)
		}
		per := 1 + (tt.days-1)/60
		if rep.Issuances != tt.certs*per || rep.Renewals != tt.certs*(per-1) || rep.Attempts != rep.Issuances {
			t.Errorf("%d×%d: issuances %d, renewals %d, attempts %d; want %d, %d, %d", tt.certs, tt.days,
				rep.Issuances, rep.Renewals, rep.Attempts, tt.certs*per, tt.certs*(per-1), tt.certs*per)
		}
		if rep.Failures != 0 || rep.Denials != 0 || rep.Expired != 0 || rep.NeverIssued != 0 || len(rep.Reasons) != 0 {
			t.Errorf("%d×%d: unexpected failures: %+v", tt.certs, tt.days, rep)
		}
		// Renewed 30 days (plus the backdate) before expiry.
		if per > 1 && (rep.MinRemaining < 29*day || rep.MinRemaining > 31*day) {
			t.Errorf("%d×%d: min remaining %v, want about 30 days", tt.certs, tt.days, rep.MinRemaining)
		}
		sum := 0
		for _, d := range rep.Timeline {
			sum += d.Issuances
		}
		if len(rep.Timeline) != tt.days || sum != rep.Issuances {
			t.Errorf("%d×%d: timeline has %d days summing to %d issuances", tt.certs, tt.days, len(rep.Timeline), sum)
		}
	}
}

// brokenValidation fails every validation of identifier with an
// unauthorized problem.
func brokenValidation(identifier, detail string) faults.Config {
	return faults.Config{Rules: []faults.Rule{{Name: "broken",
		Match:  faults.Match{Operation: faults.OpValidation, Identifier: identifier},
		Action: faults.Action{Validation: acme.StatusInvalid, Problem: &faults.Problem{Type: "unauthorized", Detail: detail}}}}}
}

// TestSimulateDeterministic runs the same seed twice.
func TestSimulateDeterministic(t *testing.T) {
	cfg := SimConfig{Certs: 10, Days: 120, Seed: 42, Start: testStart(), Faults: brokenValidation("c3.sim3.test", "404")}
	a, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs differ:\n%+v\n%+v", a, b)
	}
}

// TestSimulateFaults breaks validation of one certificate for good: its
// attempts fail with the problem, backing off, and it never gets one.
func TestSimulateFaults(t *testing.T) {
	cfg := SimConfig{Certs: 3, Days: 10, Seed: 7, Start: testStart(),
		Faults: brokenValidation("c1.sim1.test", "Invalid response: 404")}
	rep, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Issuances != 2 || rep.NeverIssued != 1 || rep.Failures == 0 || len(rep.Reasons) != 1 ||
		rep.Reasons[0].Type != "unauthorized" || rep.Reasons[0].Count != rep.Failures {
		t.Errorf("report %+v", rep)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil || !bytes.Contains(buf.Bytes(), []byte("unauthorized: ")) {
		t.Errorf("text report (%v):\n%s", err, buf.String())
	}
}

// TestSimulateSVG checks the chart is well-formed XML with two lines.
func TestSimulateSVG(t *testing.T) {
	rep := Report{Certs: 1, Days: 3, Preset: "letsencrypt-production",
		Timeline: []Day{{Day: 0, Issuances: 1}, {Day: 1, Failures: 2}, {Day: 2}}}
	var buf bytes.Buffer
	if err := rep.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	lines := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 2 {
		t.Errorf("%d polylines, want 2", lines)
	}
}

// TestSimulateConfig checks the config errors.
func TestSimulateConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  SimConfig
	}{
		{name: "no certs", cfg: SimConfig{Days: 1, Start: testStart()}},
		{name: "no start", cfg: SimConfig{Certs: 1, Days: 1}},
		{name: "bad preset", cfg: SimConfig{Certs: 1, Days: 1, Preset: "prod", Start: testStart()}},
	}
	for _, tt := range tests {
		if _, err := Simulate(context.Background(), tt.cfg); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// BenchmarkSimulate1000x365 is the target: 1,000 certificates
// for a year in under 60 s.
func BenchmarkSimulate1000x365(b *testing.B) {
	for b.Loop() {
		start := time.Now()
		rep, err := Simulate(context.Background(), SimConfig{Certs: 1000, Days: 365, Seed: 1, Start: testStart()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/run")
		b.ReportMetric(float64(rep.Issuances), "issuances")
		b.ReportMetric(float64(rep.Failures), "failures")
	}
}
