package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBadConfigNamesTheField(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown YAML key", []string{"--config", "testdata/bad_unknown_key.yaml"}, "field listn not found"},
		{"unknown preset in file", []string{"--config", "testdata/bad_preset.yaml"}, `preset: unknown preset "letsencrypt-nowhere"`},
		{"port out of range in file", []string{"--config", "testdata/bad_http01_port.yaml"}, "http01Port (--http01-port): 70000"},
		{"resolve without address", []string{"--config", "testdata/bad_resolve.yaml"}, `resolve[0] (--resolve "*.test")`},
		{"log format", []string{"--config", "testdata/bad_log_format.yaml"}, `logFormat (--log-format): "xml"`},
		{"default profile", []string{"--config", "testdata/bad_default_profile.yaml"}, `ca.defaultProfile: "nope"`},
		{"profile validity", []string{"--config", "testdata/bad_profile_validity.yaml"}, "ca.profiles.fiveminutes.validity: must be > 0"},
		{"validation rule", []string{"--config", "testdata/bad_validation_rule.yaml"}, "validation.rules[0].pattern: must not be empty"},
		{"YAML syntax", []string{"--config", "testdata/bad_syntax.yaml"}, "config testdata/bad_syntax.yaml"},
		{"missing file", []string{"--config", "testdata/nope.yaml"}, "config: open testdata/nope.yaml"},
		{"unknown flag", []string{"--listn", "x"}, "unknown flag: --listn"},
		{"bad preset flag", []string{"--preset", "nope"}, `preset: unknown preset "nope"`},
		{"bad port flag", []string{"--tlsalpn01-port", "0"}, "tlsalpn01Port (--tlsalpn01-port): 0"},
		{"bad int flag", []string{"--http01-port", "eighty"}, `invalid argument "eighty" for "--http01-port"`},
		{"bad resolve flag", []string{"--resolve", "a.test=not-an-ip"}, `resolve[0] (--resolve "a.test=not-an-ip")`},
		{"bad public URL", []string{"--public-url", "ftp://x"}, `publicURL (--public-url): "ftp://x"`},
		{"bad duration flag", []string{"--crl-publish-delay", "soon"}, `invalid argument "soon" for "--crl-publish-delay"`},
		{"bad tsig flag", []string{"--tsig", "k.:hmac-sha256"}, "tsig[0] (--tsig)"},
		{"bad dns zone flag", []string{"--dns-zone", "bad..zone", "--dns-listen", "127.0.0.1:0"}, "dns.zones"},
		{"bad tsig in file", []string{"--config", "testdata/bad_dns_tsig.yaml"}, "dns.tsig[0].algorithm"},
		{"bad hierarchy flag", []string{"--hierarchy", "nope"}, "hierarchy"},
		{"negative chain length", []string{"--chain-length", "-1"}, "chainLength: must be 1..16 (or 0 for 1), got -1"},
		{"too many alternate roots", []string{"--alternate-roots", "17"}, "alternateRoots: must be 0..16, got 17"},
		{"bad leaf issuer in file", []string{"--config", "testdata/bad_leaf_issuer.yaml"}, `leafIssuer: must be "rsa", "ecdsa" or empty, got "dsa"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetArgs(tc.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"version"})
	if err := cmd.Execute(); err != nil || !strings.HasPrefix(out.String(), "fakeca ") {
		t.Fatalf("version: %q, %v", out.String(), err)
	}
}

// TestServeStartsAndStops runs the default command with a config file and
// checks the banner: directory URL, bundle path and a ClusterIssuer.
func TestServeStartsAndStops(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ready: make(chan struct{})}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--config", "testdata/good.yaml", "--bundle-out", bundle})
	cmd.SetOut(out)
	cmd.SetErr(&bytes.Buffer{})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("serve exited early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no banner within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	text := out.String()
	for _, want := range []string{"/directory", bundle, "kind: ClusterIssuer", "caBundle: LS0t", "DNS (RFC 2136 updates for", "challtestsrv API"} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q:\n%s", want, text)
		}
	}
	pem, err := os.ReadFile(bundle)
	if err != nil || !bytes.Contains(pem, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("bundle not written: %v", err)
	}
}

// syncBuffer closes ready when the banner's last line has been written.
type syncBuffer struct {
	buf   bytes.Buffer
	ready chan struct{}
	once  bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	n, err := b.buf.Write(p)
	if !b.once && strings.Contains(b.buf.String(), "Press Ctrl-C") {
		b.once = true
		close(b.ready)
	}
	return n, err
}

func (b *syncBuffer) String() string { return b.buf.String() }

// TestPebbleEnv: Pebble's variables become fault rules and settings, and
// a bad value names the variable.
func TestPebbleEnv(t *testing.T) {
	env := map[string]string{"PEBBLE_WFE_NONCEREJECT": "15", "PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_AUTHZREUSE": "0"}
	c, err := defaults("letsencrypt-staging")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyPebbleEnv(&c, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if !c.AlwaysValid || c.CA.AuthzReusePercent != 0 || len(c.Faults.Rules) == 0 {
		t.Errorf("always-valid %v, authz reuse %d, %d fault rules", c.AlwaysValid, c.CA.AuthzReusePercent, len(c.Faults.Rules))
	}
	if _, err := c.instanceConfig(); err != nil {
		t.Errorf("translated config does not validate: %v", err)
	}
	env["PEBBLE_WFE_NONCEREJECT"] = "lots"
	if err := applyPebbleEnv(&c, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "PEBBLE_WFE_NONCEREJECT") {
		t.Errorf("bad value: %v", err)
	}
}
