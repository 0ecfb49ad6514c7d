package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarioCmd drives list, show and run (--json, --junit, a file, a
// malformed file and an unknown name) through the root command.
func TestScenarioCmd(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ndescription: d\ncertificates:\n  - name: web\n    dnsNames: [a.example.com]\ntimeline:\n  - advance: 2x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	src, err := os.ReadFile("../../scenarios/library/transient-5xx-retried.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, src, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantOut []string
		wantErr string
	}{
		{name: "list", args: []string{"scenario", "list"},
			wantOut: []string{"ca-outage-backoff ", "duplicate-certificate-limit ", "the CA is down"}},
		{name: "show", args: []string{"scenario", "show", "http01-404"},
			wantOut: []string{"name: http01-404\n", "failure: http-404"}},
		{name: "show unknown", args: []string{"scenario", "show", "nope"},
			wantErr: `no built-in scenario "nope" (see ` + "`fakeca scenario list`)"},
		{name: "run text", args: []string{"scenario", "run", "http01-404"},
			wantOut: []string{"PASS http01-404 (", "web: 7 attempts, 2 issued, ready=true", "Invalid response from"}},
		{name: "run file", args: []string{"scenario", "run", good}, wantOut: []string{"PASS transient-5xx-retried"}},
		{name: "run malformed file", args: []string{"scenario", "run", bad},
			wantErr: bad + `:7: timeline[0].advance: "2x" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cliRun(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestScenarioRunJSONJUnit checks --json (one object per scenario) and
// the JUnit report.
func TestScenarioRunJSONJUnit(t *testing.T) {
	report := filepath.Join(t.TempDir(), "junit.xml")
	out, _ := cliMust(t, "scenario", "run", "ca-outage-backoff", "badnonce-storm", "--json", "--junit", report)
	objs := cliObjects(t, out)
	if len(objs) != 2 {
		t.Fatalf("got %d JSON objects, want 2:\n%s", len(objs), out)
	}
	for i, name := range []string{"ca-outage-backoff", "badnonce-storm"} {
		if objs[i]["name"] != name || objs[i]["passed"] != true {
			t.Errorf("object %d: name %v passed %v, want %s true", i, objs[i]["name"], objs[i]["passed"], name)
		}
	}
	var res struct {
		Certificates []struct {
			FailedAttempts int `json:"failedAttempts"`
		} `json:"certificates"`
	}
	b, _ := json.Marshal(objs[0])
	if err := json.Unmarshal(b, &res); err != nil || len(res.Certificates) != 1 || res.Certificates[0].FailedAttempts != 8 {
		t.Errorf("ca-outage-backoff certificates: %+v (%v), want one with 8 failed attempts", res, err)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var suite scenarioSuite
	if err := xml.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	if suite.Tests != 2 || suite.Failures != 0 || len(suite.Cases) != 2 || suite.Cases[1].Name != "badnonce-storm" {
		t.Errorf("JUnit report: %+v", suite)
	}
}
