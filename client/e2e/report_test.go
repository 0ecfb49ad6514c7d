package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func sampleReport(failed bool) Report {
	r := Report{Server: "https://ca/directory", OK: !failed, Duration: 2 * time.Second, Steps: []Result{
		{Step: "directory", Status: Pass, Duration: 850 * time.Microsecond, Detail: "ARI yes"},
		{Step: "ocsp", Status: Skip, Duration: 0, Detail: "certificate has no OCSP URL"},
	}}
	if failed {
		r.Steps = append(r.Steps, Result{Step: "validate a.test", Status: Fail, Duration: 1400 * time.Millisecond,
			Error:   "acme: authorization error for a.test: 400 urn:ietf:params:acme:error:connection: refused",
			Problem: &Problem{Type: "urn:ietf:params:acme:error:connection", Detail: "127.0.0.1: Connection refused", Status: 400}})
	}
	return r
}

func TestWriteTable(t *testing.T) {
	tests := []struct {
		name   string
		failed bool
		want   []string
	}{
		{"pass", false, []string{"STEP", "directory  ✓ pass  850 µs  ARI yes", "ocsp       - skip  0 µs    certificate has no OCSP URL",
			"PASS: 2 steps against https://ca/directory in 2.0 s"}},
		{"fail shows the exact problem", true, []string{"✗ FAIL  1.4 s   400 urn:ietf:params:acme:error:connection: 127.0.0.1: Connection refused",
			"FAIL at validate a.test (https://ca/directory): 400 urn:ietf:params:acme:error:connection: 127.0.0.1: Connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := sampleReport(tt.failed).WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(true).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK    bool `json:"ok"`
		Steps []struct {
			Step, Result string
			MS           float64
			Problem      *Problem
		} `json:"steps"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || len(got.Steps) != 3 || got.Steps[0].MS != 0.85 || got.Steps[2].Result != "fail" ||
		got.Steps[2].Problem.Type != "urn:ietf:params:acme:error:connection" {
		t.Errorf("JSON report: %+v\n%s", got, b.String())
	}
}

func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport(true).WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Suites[0]
	if got.Tests != 3 || got.Failures != 1 || got.Skipped != 1 || len(s.Cases) != 3 ||
		s.Cases[2].Failure == nil || s.Cases[2].Failure.Type != "urn:ietf:params:acme:error:connection" ||
		s.Cases[1].Skipped == nil || s.Cases[2].Time != "1.400" {
		t.Errorf("JUnit: %+v\n%s", got, b.String())
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{850 * time.Microsecond: "850 µs", 12 * time.Millisecond: "12 ms", 1400 * time.Millisecond: "1.4 s"}
	for d, want := range tests {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
