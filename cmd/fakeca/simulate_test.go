package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateCmd runs simulate with a fault file, --chart and --json,
// and checks the flag and file errors.
func TestSimulateCmd(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - name: broken\n    match: {operation: validation, identifier: c0.sim0.test}\n"+
		"    action: {validation: invalid, problem: {type: unauthorized, detail: 'Invalid response: 404'}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rulez: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(dir, "chart.svg")
	tests := []struct {
		name    string
		args    []string
		wantOut []string
		wantErr string
	}{
		{name: "text", args: []string{"simulate", "--certs", "2", "--days", "5", "--faults", rules, "--chart", chart},
			wantOut: []string{"issuances               1\n", "unauthorized: Invalid response: 404", "never issued"}},
		{name: "json", args: []string{"simulate", "--certs", "1", "--days", "2", "--json"}, wantOut: []string{`"issuances": 1,`}},
		{name: "bad preset", args: []string{"simulate", "--preset", "prod"},
			wantErr: `unknown preset "prod" (want production, staging or off)`},
		{name: "bad faults file", args: []string{"simulate", "--faults", bad}, wantErr: bad + ": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cliRun(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
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
			if strings.Contains(tt.name, "json") && !json.Valid([]byte(out)) {
				t.Errorf("not JSON:\n%s", out)
			}
		})
	}
	if b, err := os.ReadFile(chart); err != nil || !strings.HasPrefix(string(b), "<svg ") {
		t.Errorf("chart: %v %.40q", err, b)
	}
}
