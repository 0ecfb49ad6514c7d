package main

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClientAgainstPebble runs issue and revoke against Pebble, an
// independent ACME server, with its test CA and PEBBLE_VA_ALWAYS_VALID=1.
// It runs only when PEBBLE_BIN is set (scripts/pebble-client-test.sh
// installs Pebble and sets it); PEBBLE_CERTS is Pebble's test/certs
// directory (default: in the module cache).
func TestClientAgainstPebble(t *testing.T) {
	bin := os.Getenv("PEBBLE_BIN")
	if bin == "" {
		t.Skip("PEBBLE_BIN not set; run scripts/pebble-client-test.sh")
	}
	certs := os.Getenv("PEBBLE_CERTS")
	if certs == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Fatal(err)
		}
		certs = filepath.Join(strings.TrimSpace(string(out)), "github.com/letsencrypt/pebble/v2@v2.10.3/test/certs")
	}
	dir := t.TempDir()
	acmeAddr, mgmtAddr := "127.0.0.1:"+strconv.Itoa(cliFreePort(t)), "127.0.0.1:"+strconv.Itoa(cliFreePort(t))
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": acmeAddr, "managementListenAddress": mgmtAddr,
		"certificate": filepath.Join(certs, "localhost", "cert.pem"), "privateKey": filepath.Join(certs, "localhost", "key.pem"),
		"httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false,
		"retryAfter": map[string]int{"authz": 1, "order": 1},
	}})
	cfgPath := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1")
	startProcess(t, cmd, "ACME directory available")
	waitDial(t, acmeAddr)

	base := []string{"--server", "https://" + acmeAddr + "/dir", "--ca-bundle", filepath.Join(certs, "pebble.minica.pem"),
		"--account-key", filepath.Join(dir, "account.key"), "--poll-interval", "100ms", "--poll-max", "1s", "--timeout", "90s"}
	out := filepath.Join(dir, "cert")
	stdout, _ := cliMust(t, append([]string{"issue", "-d", "client.pebble.test", "-d", "www.client.pebble.test", "--out", out,
		"--http01-listen", "127.0.0.1:" + strconv.Itoa(cliFreePort(t)), "--json"}, base...)...)
	serial, _ := cliResult(t, stdout)["serial"].(string)
	if serial == "" {
		t.Fatalf("issue: %s", stdout)
	}
	stdout, _ = cliMust(t, append([]string{"revoke", "--out", out, "--reason", "cessationOfOperation", "--json"}, base...)...)
	if r := cliResult(t, stdout); r["revoked"] != true {
		t.Fatalf("revoke: %v", r)
	}
	roots, err := readRoots(filepath.Join(certs, "pebble.minica.pem"), "minica")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	res, err := hc.Get("https://" + mgmtAddr + "/cert-status-by-serial/" + serial)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct{ Status string }
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || st.Status != "Revoked" {
		t.Errorf("Pebble's cert-status for %s: %+v, %v", serial, st, err)
	}
}

// waitDial waits until addr accepts TCP connections (Pebble logs its
// address just before it binds).
func waitDial(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never accepted connections: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
