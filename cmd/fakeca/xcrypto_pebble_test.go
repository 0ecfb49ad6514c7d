package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestXCryptoAcmePebbleSuite runs golang.org/x/crypto/acme's own Pebble
// integration tests (acme/pebble_test.go: TestWithPebble and
// TestUnsupportedProfileWithPebble) with fakeca in Pebble's place, the way
// a project switches: its -pebble-local-dir gets a directory whose
// cmd/pebble and cmd/pebble-challtestsrv build into shims that exec this
// fakeca binary, and whose test/certs hold a test CA and a localhost
// certificate. The suite then starts `pebble -config … -dnsserver …
// -strict` and `pebble-challtestsrv …` itself and issues with tls-alpn-01,
// http-01 and a profile, for DNS names and an IP address.
//
// It needs the go command (the suite builds the shims) and binds fixed
// ports from 5555 up, as the suite does; -short skips it.
func TestXCryptoAcmePebbleSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs another module's test suite; skipped with -short")
	}
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin, dir := fakecaBinary(t), t.TempDir()
	writeServingCert(t, filepath.Join(dir, "test"))
	files := map[string]string{"go.mod": "module fakeca.test/pebbleshim\n\ngo 1.26\n"}
	for _, name := range []string{"pebble", "pebble-challtestsrv"} {
		files[filepath.Join("cmd", name, "main.go")] = fmt.Sprintf(shimSource, name, name, bin)
	}
	for name, text := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), goTool, "test", "golang.org/x/crypto/acme", "-count=1", "-v",
		"-run", "^(TestWithPebble|TestUnsupportedProfileWithPebble)$", "-args", "-pebble-local-dir="+dir)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("x/crypto/acme's Pebble suite against fakeca: %v\n%s", err, out)
	}
	for _, want := range []string{"--- PASS: TestWithPebble/TLSALPN01-Issuance", "--- PASS: TestWithPebble/HTTP01-Issuance ",
		"--- PASS: TestUnsupportedProfileWithPebble"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// shimSource is a main package that replaces itself with fakeca running
// the named subcommand (arguments: the command name twice, fakeca's path).
const shimSource = `// Command %s runs fakeca in its place.
package main

import (
	"os"
	"syscall"
)

func main() {
	args := append([]string{%q}, os.Args[1:]...)
	if err := syscall.Exec(%q, args, os.Environ()); err != nil {
		panic(err)
	}
}
`
