package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
	"github.com/fakeca/fakeca/ratelimit"
)

// cliCA is an in-process fakeca for the client command tests: it
// validates for real, http-01 on http01Port and tls-alpn-01 on alpnPort of
// 127.0.0.1 for every *.test name, dns-01 through its own DNS server
// (RFC 2136, zone test.).
type cliCA struct {
	inst       *instance.Instance
	bundle     string // the trust bundle file
	http01Port int
	alpnPort   int
}

// cliFreePort returns a loopback TCP port that was free a moment ago.
func cliFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startCLICA(t *testing.T) *cliCA {
	t.Helper()
	c := &cliCA{http01Port: cliFreePort(t), alpnPort: cliFreePort(t), bundle: filepath.Join(t.TempDir(), "bundle.pem")}
	override, err := challengeval.ParseHostOverride("*.test=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dns := dnsserver.DefaultConfig()
	dns.Listen, dns.ManagementListen = "127.0.0.1:0", ""
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", CA: ca.DefaultConfig(),
		DNS: &dns, RateLimits: ratelimit.Config{DisableRequestLimits: true},
		Validation: challengeval.Config{HTTP01Port: c.http01Port, TLSALPN01Port: c.alpnPort,
			HostOverrides: []challengeval.HostOverride{override}, LookupTimeout: 5 * time.Second, HTTPTimeout: 5 * time.Second}}
	c.inst, err = instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.inst.Shutdown(ctx)
	})
	if err := writeFileAtomic(c.bundle, c.inst.BundlePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// args are the flags every client command needs to talk to this CA fast.
func (c *cliCA) args(accountKey string) []string {
	return []string{"--server", c.inst.DirectoryURL(), "--ca-bundle", c.bundle, "--account-key", accountKey,
		"--poll-interval", "50ms", "--poll-max", "100ms", "--timeout", "30s"}
}

// solverArgs point the solvers at this CA's ports and DNS server.
func (c *cliCA) solverArgs() []string {
	return []string{"--http01-listen", "127.0.0.1:" + strconv.Itoa(c.http01Port),
		"--tlsalpn01-listen", "127.0.0.1:" + strconv.Itoa(c.alpnPort), "--dns-server", c.inst.DNS().Addr()}
}

// cliRun runs fakeca with args and returns stdout, stderr and the error.
func cliRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// cliMust is cliRun that fails the test on an error.
func cliMust(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := cliRun(t, args...)
	if err != nil {
		t.Fatalf("fakeca %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

// cliObjects parses --json output: one object per line.
func cliObjects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		objs = append(objs, m)
	}
	return objs
}

// cliResult is the "result" object of --json output.
func cliResult(t *testing.T, out string) map[string]any {
	t.Helper()
	for _, o := range cliObjects(t, out) {
		if o["event"] == "result" {
			return o
		}
	}
	t.Fatalf("no result object in:\n%s", out)
	return nil
}
