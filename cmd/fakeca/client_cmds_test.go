package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/client"
)

// TestIssueChallenges issues through each solver the CA validates for
// real: a dns-01 wildcard over RFC 2136, tls-alpn-01, and an IP address
// by http-01 (shortlived profile, as Let's Encrypt requires for IPs).
func TestIssueChallenges(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	base := append(c.args(filepath.Join(dir, "account.key")), c.solverArgs()...)
	tests := []struct {
		name      string
		args      []string
		verify    string
		wantSteps []string
	}{
		{"dns-01 wildcard and apex", []string{"-d", "*.wild.cli.test", "-d", "wild.cli.test", "--challenge", "dns-01"},
			"a.wild.cli.test", []string{"*.wild.cli.test validated (dns-01)", "wild.cli.test validated (dns-01)"}},
		{"tls-alpn-01, RSA key", []string{"-d", "alpn.cli.test", "--challenge", "tls-alpn-01", "--key-type", "rsa2048"},
			"alpn.cli.test", []string{"alpn.cli.test validated (tls-alpn-01)"}},
		{"IP by http-01, shortlived", []string{"-d", "127.0.0.1", "--profile", "shortlived"},
			"127.0.0.1", []string{"127.0.0.1 validated (http-01)"}},
		{"wildcard falls back to dns-01 from a preference list", []string{"-d", "*.pref.cli.test", "--challenge", "http-01,dns-01"},
			"x.pref.cli.test", []string{"*.pref.cli.test validated (dns-01)"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "c"+string(rune('0'+i)))
			_, stderr := cliMust(t, append(append([]string{"issue", "--out", out}, tt.args...), base...)...)
			for _, w := range tt.wantSteps {
				if !strings.Contains(stderr, "✓ "+w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			checkCertFiles(t, c, out, tt.verify)
		})
	}
}

// TestIssueReportsTheServerProblem: a refused identifier fails the order
// step with Boulder's exact problem, in the progress line and in --json.
func TestIssueReportsTheServerProblem(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	args := append([]string{"issue", "-d", "bad_name.cli.test", "--out", dir, "--json"}, c.args(filepath.Join(dir, "k"))...)
	stdout, _, err := cliRun(t, args...)
	if err == nil || !strings.Contains(err.Error(), "400 urn:ietf:params:acme:error:rejectedIdentifier") {
		t.Fatalf("error = %v", err)
	}
	var problem map[string]any
	for _, o := range cliObjects(t, stdout) {
		if o["step"] == "order" && o["ok"] == false {
			problem, _ = o["problem"].(map[string]any)
		}
	}
	if problem["type"] != "urn:ietf:params:acme:error:rejectedIdentifier" || problem["status"] != float64(400) ||
		!strings.Contains(problem["detail"].(string), "Domain name contains an invalid character") {
		t.Errorf("problem = %v", problem)
	}
}

// TestRenewBacksOff: a failed issuance (a 4xx, final) is recorded; the
// next renew backs off 1 h without contacting the CA for an order; --force
// tries anyway and the backoff doubles.
func TestRenewBacksOff(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "bad")
	base := append([]string{"-d", "bad_name.cli.test", "--out", out}, c.args(filepath.Join(dir, "k"))...)
	if _, stderr, err := cliRun(t, append([]string{"renew"}, base...)...); err == nil || !strings.Contains(stderr, "issuance failed (attempt 1)") {
		t.Fatalf("first renew: %v\n%s", err, stderr)
	}
	st, err := readState(filepath.Join(out, fileRenewal))
	if err != nil || st.FailedIssuanceAttempts != 1 || !strings.Contains(st.LastError, "rejectedIdentifier") {
		t.Fatalf("state: %+v, %v", st, err)
	}
	stdout, _ := cliMust(t, append([]string{"renew", "--json"}, base...)...)
	r := cliResult(t, stdout)
	next, _ := time.Parse(time.RFC3339, r["nextAttempt"].(string))
	if r["reason"] != client.ReasonBackingOff || next.Sub(st.LastFailureTime) < 59*time.Minute || next.Sub(st.LastFailureTime) > time.Hour+time.Second {
		t.Fatalf("second renew: %v (last failure %v)", r, st.LastFailureTime)
	}
	if !strings.HasPrefix(r["message"].(string), "Backing off from issuance due to previously failed issuance(s). Issuance will next be attempted at ") {
		t.Errorf("message = %q", r["message"])
	}
	if _, stderr, err := cliRun(t, append([]string{"renew", "--force"}, base...)...); err == nil || !strings.Contains(stderr, "issuance failed (attempt 2)") {
		t.Fatalf("forced renew: %v\n%s", err, stderr)
	}
}

// TestAccountCommands: register (then found again), show, key-change
// (the new key works, the old is kept), deactivate.
func TestAccountCommands(t *testing.T) {
	c := startCLICA(t)
	key := filepath.Join(t.TempDir(), "acct", "account.key")
	base := append(c.args(key), "--json")
	reg := cliResult(t, first(cliMust(t, append([]string{"account", "register", "--email", "ops@example.com"}, base...)...)))
	if reg["created"] != true || !strings.Contains(reg["url"].(string), "/acme/acct/") {
		t.Fatalf("register: %v", reg)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("account key: %v %v", st, err)
	}
	if again := cliResult(t, first(cliMust(t, append([]string{"account", "register"}, base...)...))); again["created"] != false || again["url"] != reg["url"] {
		t.Errorf("second register: %v", again)
	}
	human, _ := cliMust(t, append([]string{"account", "show"}, c.args(key)...)...)
	if !strings.Contains(human, "URL:     "+reg["url"].(string)) || !strings.Contains(human, "Status:  valid") ||
		!strings.Contains(human, "mailto:ops@example.com") {
		t.Errorf("show:\n%s", human)
	}
	oldPEM, _ := os.ReadFile(key)
	cliMust(t, append([]string{"account", "key-change"}, base...)...)
	newPEM, _ := os.ReadFile(key)
	if kept, _ := os.ReadFile(key + ".old"); string(kept) != string(oldPEM) || string(newPEM) == string(oldPEM) {
		t.Fatal("key-change did not replace the key and keep the old one")
	}
	if show := cliResult(t, first(cliMust(t, append([]string{"account", "show"}, base...)...))); show["url"] != reg["url"] {
		t.Errorf("show with the new key: %v", show)
	}
	if d := cliResult(t, first(cliMust(t, append([]string{"account", "deactivate"}, base...)...))); d["status"] != "deactivated" {
		t.Errorf("deactivate: %v", d)
	}
	if _, _, err := cliRun(t, append([]string{"account", "show"}, base...)...); err == nil {
		t.Error("show after deactivate succeeded")
	}
}

func first(a, _ string) string { return a }

// TestClientCommandErrors: bad input fails before any request, naming
// the flag; an untrusted server fails with the TLS error.
func TestClientCommandErrors(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	base := c.args(filepath.Join(dir, "k"))
	tests := []struct {
		name string
		cmd  []string
		args []string // after the defaults, so they win
		want string
	}{
		{"issue without names", []string{"issue"}, nil, "-d/--domain: at least one name is required"},
		{"unknown challenge", []string{"issue"}, []string{"-d", "a.test", "--challenge", "http-02"}, `--challenge: "http-02"`},
		{"unknown key type", []string{"issue"}, []string{"-d", "a.test", "--key-type", "dsa"}, `--key-type: "dsa"`},
		{"bad tsig", []string{"issue"}, []string{"-d", "a.test", "--challenge", "dns-01", "--tsig", "k:hmac-sha256"}, "--tsig"},
		{"unknown revocation reason", []string{"revoke"}, []string{"--cert", "x.pem", "--reason", "boredom"}, `--reason: unknown revocation reason "boredom"`},
		{"revoke without a certificate", []string{"revoke"}, []string{"--out", dir}, "--cert: " + filepath.Join(dir, "cert.pem") + " does not exist"},
		{"renew with nothing to renew", []string{"renew"}, []string{"--out", dir}, "no cert.pem in " + dir},
		{"missing CA bundle", []string{"account", "register"}, []string{"--ca-bundle", filepath.Join(dir, "none.pem")}, "--ca-bundle: open"},
		{"show without a key", []string{"account", "show"}, []string{"--account-key", filepath.Join(dir, "none.key")}, "--account-key: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cliRun(t, append(append(tt.cmd, base...), tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("untrusted server", func(t *testing.T) {
		_, _, err := cliRun(t, "account", "register", "--server", c.inst.DirectoryURL(), "--account-key", filepath.Join(dir, "k2"))
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("error = %v", err)
		}
	})
}

// TestRenewKeepsTheCertificateNames: -d only finds the directory of an
// existing certificate; renew --force renews all its names, with the
// reason cmctl renew gives.
func TestRenewKeepsTheCertificateNames(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	base := append(append(c.args(filepath.Join(dir, "k")), c.solverArgs()...), "--challenge", "dns-01", "--out", filepath.Join(dir, "w"))
	cliMust(t, append([]string{"issue", "-d", "w.cli.test", "-d", "*.w.cli.test"}, base...)...)
	stdout, _ := cliMust(t, append([]string{"renew", "-d", "w.cli.test", "--force", "--json"}, base...)...)
	r := cliResult(t, stdout)
	if names, _ := json.Marshal(r["names"]); string(names) != `["w.cli.test","*.w.cli.test"]` || r["reason"] != reasonManual {
		t.Errorf("renewed %s (reason %v)", names, r["reason"])
	}
}
