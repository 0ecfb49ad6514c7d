package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/client/e2e"
)

// e2eFast are the polling flags that keep a run short.
func e2eFast() []string {
	return []string{"--poll-interval", "50ms", "--poll-max", "100ms", "--timeout", "60s"}
}

// TestE2EInProcess runs "fakeca e2e" with its own fakeca: every step
// passes (OCSP too, which the in-process CA enables) and the JSON and
// JUnit reports parse.
func TestE2EInProcess(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "e2e.xml")
	stdout, stderr := cliMust(t, append([]string{"e2e", "--json", "--junit", junit}, e2eFast()...)...)
	var rep e2e.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	want := []string{"directory", "account", "order", "validate *.e2e.fakeca.test", "validate e2e.fakeca.test", "finalize",
		"download", "chain", "ari", "renewal", "revocation", "crl", "ocsp", "cert-status"}
	var got []string
	for _, s := range rep.Steps {
		got = append(got, s.Step)
		if s.Status != e2e.Pass {
			t.Errorf("step %s: %s %s %s", s.Step, s.Status, s.Detail, s.Message())
		}
	}
	if !rep.OK || len(got) != len(want) {
		t.Fatalf("steps %q, want %q (ok %v)\nstderr:\n%s", got, want, rep.OK, stderr)
	}
	checkJUnit(t, junit, len(want), 0)
}

// checkJUnit parses a JUnit file and checks its counts.
func checkJUnit(t *testing.T, path string, tests, failures int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &j); err != nil {
		t.Fatalf("--junit: %v\n%s", err, b)
	}
	if j.Tests != tests || j.Failures != failures || len(j.Suites) != 1 || len(j.Suites[0].Cases) != tests {
		t.Errorf("junit: %d tests, %d failures; want %d, %d\n%s", j.Tests, j.Failures, tests, failures, b)
	}
}

// TestE2EFailsWithTheServerProblem: against a CA whose http-01 port has
// no responder, e2e stops at the http-01 validation, exits non-zero with
// the CA's exact problem, and the reports say so.
func TestE2EFailsWithTheServerProblem(t *testing.T) {
	c := startCLICA(t)
	junit := filepath.Join(t.TempDir(), "e2e.xml")
	args := append([]string{"e2e", "--server", c.inst.DirectoryURL(), "--ca-bundle", c.bundle,
		"--http01-listen", "127.0.0.1:" + strconv.Itoa(cliFreePort(t)), "--dns-server", c.inst.DNS().Addr(), "--junit", junit}, e2eFast()...)
	stdout, _, err := cliRun(t, args...)
	const problem = "urn:ietf:params:acme:error:connection"
	if err == nil || !strings.Contains(err.Error(), "e2e failed at validate e2e.fakeca.test: 400 "+problem) {
		t.Fatalf("error = %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "✗ FAIL") || !strings.Contains(stdout, "FAIL at validate e2e.fakeca.test") {
		t.Errorf("table:\n%s", stdout)
	}
	checkJUnit(t, junit, 5, 1)
}

// TestE2EAgainstServeProcess builds fakeca, starts "fakeca serve" as a
// separate process on free ports, and runs "fakeca e2e --server" against
// it: the whole workflow passes and the table says PASS.
func TestE2EAgainstServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fakeca binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fakeca")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := func() string { return strconv.Itoa(cliFreePort(t)) }
	acmePort, mgmtPort, pubPort, dnsPort, http01Port := port(), port(), port(), port(), port()
	bundle := filepath.Join(dir, "bundle.pem")
	startProcess(t, exec.Command(bin, "serve", "--listen", "127.0.0.1:"+acmePort, "--mgmt-listen", "127.0.0.1:"+mgmtPort,
		"--http-listen", "127.0.0.1:"+pubPort, "--dns-listen", "127.0.0.1:"+dnsPort, "--challtestsrv-listen", "",
		"--http01-port", http01Port, "--resolve", "*.e2e.fakeca.test=127.0.0.1", "--resolve", "e2e.fakeca.test=127.0.0.1",
		"--ocsp", "--bundle-out", bundle), "Press Ctrl-C")
	junit := filepath.Join(dir, "e2e.xml")
	stdout, _ := cliMust(t, append([]string{"e2e", "--server", "https://127.0.0.1:" + acmePort + "/directory", "--ca-bundle", bundle,
		"--mgmt-url", "https://127.0.0.1:" + mgmtPort, "--http01-listen", "127.0.0.1:" + http01Port,
		"--dns-server", "127.0.0.1:" + dnsPort, "--junit", junit}, e2eFast()...)...)
	if !strings.Contains(stdout, "PASS: 14 steps against https://127.0.0.1:"+acmePort+"/directory") || strings.Contains(stdout, "skip") {
		t.Errorf("table:\n%s", stdout)
	}
	checkJUnit(t, junit, 14, 0)
}

// startProcess runs cmd until the end of t, and returns once a line of
// its output contains ready.
func startProcess(t *testing.T, cmd *exec.Cmd, ready string) {
	t.Helper()
	bin := cmd.Path
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before %q:\n%s", bin, ready, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, ready) {
				go func() { // keep draining so the process never blocks on output
					for range lines {
					}
				}()
				return
			}
		case <-timeout:
			t.Fatalf("%s not ready in 30 s:\n%s", bin, strings.Join(seen, "\n"))
		}
	}
}
