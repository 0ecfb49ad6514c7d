package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/client"
)

// TestIssueRenewRevoke is a certificate's life through the commands:
// issue (http-01), renew when not due (nothing), renew once the ARI
// window has opened (dns-01, with replaces, which the new order echoes),
// revoke with the certificate's key, and the management API seeing the
// revocation.
func TestIssueRenewRevoke(t *testing.T) {
	c := startCLICA(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "account.key")
	out := filepath.Join(dir, "web")
	base := append(c.args(key), c.solverArgs()...)

	stdout, stderr := cliMust(t, append([]string{"issue", "-d", "web.cli.test", "--out", out, "--json"}, base...)...)
	if !strings.Contains(stdout, `"step":"authorize"`) || !strings.Contains(stdout, `"step":"certificate"`) || stderr != "" {
		t.Errorf("--json: want step objects on stdout and nothing on stderr:\n%s\n%s", stdout, stderr)
	}
	first := checkCertFiles(t, c, out, "web.cli.test")
	if r := cliResult(t, stdout); r["serial"] != first.SerialNumber.Text(16) {
		t.Errorf("result %v does not name serial %x", r, first.SerialNumber)
	}
	certID, err := client.CertID(first)
	if err != nil {
		t.Fatal(err)
	}

	stdout, stderr = cliMust(t, append([]string{"renew", "--out", out}, base...)...)
	if stdout != "" || !strings.Contains(stderr, "renewal: NotDue: Certificate is up to date; renewal is scheduled at ") {
		t.Fatalf("renew of a fresh certificate: stdout %q, stderr:\n%s", stdout, stderr)
	}

	// The server's ARI window opens (as renew last saw it): renew now.
	now := time.Now()
	ari := &client.ARIState{Window: client.RenewalInfo{Start: now, End: now.Add(time.Hour)}, LastChecked: now, NextCheck: now.Add(time.Hour)}
	if err := writeState(filepath.Join(out, fileRenewal), client.RenewalState{ARI: ari}); err != nil {
		t.Fatal(err)
	}
	stdout, _ = cliMust(t, append([]string{"renew", "--out", out, "--challenge", "dns-01", "--json"}, base...)...)
	if !strings.Contains(stdout, "renewal: Renewing: Renewing certificate as renewal was scheduled at ") {
		t.Errorf("renew in the ARI window did not say why:\n%s", stdout)
	}
	r := cliResult(t, stdout)
	if r["renewed"] != true || r["replaces"] != certID {
		t.Fatalf("renew in the ARI window: %v, want replaces %s", r, certID)
	}
	checkReplacesEchoed(t, c, key, r["order"].(string), certID)
	leaf := checkCertFiles(t, c, out, "web.cli.test")
	if leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renew kept the old certificate")
	}
	if st, _ := readState(filepath.Join(out, fileRenewal)); st.FailedIssuanceAttempts != 0 {
		t.Errorf("state after a renewal: %+v", st)
	}

	stdout, _ = cliMust(t, append([]string{"revoke", "--out", out, "--cert-key", "--reason", "keyCompromise", "--json"}, c.args(key)...)...)
	if r := cliResult(t, stdout); r["revoked"] != true || r["reason"] != float64(1) || r["signedBy"] != "certificate key" {
		t.Fatalf("revoke: %v", r)
	}
	if st := certStatus(t, c, leaf.SerialNumber.Text(16)); st.Status != "Revoked" || st.Reason == nil || *st.Reason != 1 {
		t.Errorf("cert-status after revoke: %+v", st)
	}
}

// checkCertFiles checks the four files and that the chain verifies with
// the CA's bundle; it returns the leaf.
func checkCertFiles(t *testing.T, c *cliCA, dir, name string) *x509.Certificate {
	t.Helper()
	for f, perm := range map[string]os.FileMode{fileKey: 0o600, fileCert: 0o644, fileChain: 0o644, fileFullchain: 0o644} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != perm {
			t.Fatalf("%s: %v, mode %v (want %v)", f, err, st.Mode().Perm(), perm)
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, fileFullchain), filepath.Join(dir, fileKey))
	if err != nil {
		t.Fatalf("fullchain.pem and privkey.pem do not match: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	roots, _ := poolFromPEM(c.inst.BundlePEM())
	inter := x509.NewCertPool()
	chain, _ := os.ReadFile(filepath.Join(dir, fileChain))
	inter.AppendCertsFromPEM(chain)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	return leaf
}

// checkReplacesEchoed fetches the renewal's order as the server renders
// it (POST-as-GET by the same account) and checks its `replaces`.
func checkReplacesEchoed(t *testing.T, c *cliCA, keyPath, orderURL, certID string) {
	t.Helper()
	key, err := readKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := poolFromPEM(c.inst.BundlePEM())
	cl, err := client.New(client.Config{DirectoryURL: c.inst.DirectoryURL(), Roots: roots}, client.Deps{Clock: clock.RealClock{}, AccountKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Account(t.Context()); err != nil {
		t.Fatal(err)
	}
	o, err := cl.Order(t.Context(), orderURL)
	if err != nil {
		t.Fatal(err)
	}
	if o.Replaces != certID || o.Status != "valid" {
		t.Fatalf("order %s: status %s, replaces %q; want valid, %q", orderURL, o.Status, o.Replaces, certID)
	}
}

// certStatus asks the management API about a serial.
func certStatus(t *testing.T, c *cliCA, serial string) (st struct {
	Status string
	Reason *int
}) {
	t.Helper()
	roots, _ := poolFromPEM(c.inst.BundlePEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	res, err := hc.Get("https://" + c.inst.MgmtAddr() + "/cert-status-by-serial/" + serial)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
