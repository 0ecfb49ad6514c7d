package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// pebbleEnv is the almost empty environment harnesses start Pebble with.
func pebbleEnv(extra ...string) []string {
	return append([]string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}, extra...)
}

// pebbleRig is a `pebble` process (through a symlink) and a
// `pebble-challtestsrv` process it validates against.
type pebbleRig struct {
	dir, acme, mgmt, chall string
	pool                   *x509.CertPool
	http                   *http.Client
	pebble                 *proc
	start                  func() *proc // starts pebble again
}

// startPebbleRig writes a Pebble-README-style config (extra keys merged
// in) with relative certificate paths and starts both processes.
func startPebbleRig(t *testing.T, extra map[string]any, env []string, flags ...string) *pebbleRig {
	t.Helper()
	return startPebbleRigTop(t, extra, nil, env, flags...)
}

// restartPebble kills pebble with SIGKILL and starts it again on the
// same configuration.
func (r *pebbleRig) restartPebble(t *testing.T) {
	t.Helper()
	r.pebble.kill()
	r.pebble = r.start()
}

// startPebbleRigTop is startPebbleRig with top-level keys (e.g. "fakeca")
// added to the config file next to "pebble".
func startPebbleRigTop(t *testing.T, extra, top map[string]any, env []string, flags ...string) *pebbleRig {
	t.Helper()
	bin := fakecaBinary(t)
	dir := t.TempDir()
	r := &pebbleRig{dir: dir, pool: writeServingCert(t, dir)}
	r.http = httpsClient(r.pool)
	httpPort, tlsPort, dnsPort, mgmtPort := freePort(t), freePort(t), freePort(t), freePort(t)
	r.chall = "http://" + addr(mgmtPort)
	startProc(t, bin, "pebble-challtestsrv", dir, []string{}, addr(mgmtPort),
		"-http01", addr(httpPort), "-tlsalpn01", addr(tlsPort), "-https01", "", "-doh", "",
		"-dnsserver", fmt.Sprintf("localhost:%d", dnsPort), "-management", addr(mgmtPort), "-defaultIPv6", "")
	acmePort, pebMgmt := freePort(t), freePort(t)
	r.acme, r.mgmt = "https://"+addr(acmePort), "https://"+addr(pebMgmt)
	cfg := map[string]any{"ListenAddress": addr(acmePort), "ManagementListenAddress": addr(pebMgmt),
		"Certificate": "certs/localhost/cert.pem", "PrivateKey": "certs/localhost/key.pem",
		"HTTPPort": httpPort, "TLSPort": tlsPort, "OCSPResponderURL": "",
		"ExternalAccountBindingRequired": false, "domainBlocklist": []string{"blocked-domain.example"},
		"retryAfter": map[string]int{"authz": 3, "order": 5},
		"profiles": map[string]any{"default": map[string]any{"description": "The profile you know and love",
			"validityPeriod": 7776000}, "shortlived": map[string]any{"description": "short", "validityPeriod": 518400}}}
	for k, v := range extra {
		cfg[k] = v
	}
	file := map[string]any{"pebble": cfg}
	for k, v := range top {
		file[k] = v
	}
	raw, _ := json.Marshal(file)
	if err := os.MkdirAll(filepath.Join(dir, "test", "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test", "config", "pebble-config.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-dnsserver", fmt.Sprintf("localhost:%d", dnsPort)}, flags...)
	r.start = func() *proc { return startProc(t, bin, "pebble", dir, env, addr(acmePort), args...) }
	r.pebble = r.start()
	return r
}

func (r *pebbleRig) client(t *testing.T) *acme.Client {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &acme.Client{Key: key, DirectoryURL: r.acme + "/dir", HTTPClient: r.http, UserAgent: "fakeca-pebble-test"}
}

// challtest posts one challtestsrv management call.
func (r *pebbleRig) challtest(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(r.chall+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", path, resp.Status)
	}
}

func (r *pebbleRig) mgmtGet(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := r.http.Get(r.mgmt + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// issue runs one order for name (with opts), provisioning the challenge of
// type typ through challtestsrv, and returns the chain, certificate URL and
// leaf key.
func (r *pebbleRig) issue(t *testing.T, cl *acme.Client, name, typ string, opts ...acme.OrderOption) ([][]byte, string, crypto.Signer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(name), opts...)
	if err != nil {
		t.Fatalf("new order: %v", err)
	}
	if !strings.Contains(o.URI, "/my-order/") {
		t.Errorf("order URL %s is not Pebble's /my-order/", o.URI)
	}
	for _, u := range o.AuthzURLs {
		z, err := cl.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var chal *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == typ {
				chal = c
			}
		}
		if chal == nil {
			t.Fatalf("no %s challenge in %s", typ, u)
		}
		switch typ {
		case "http-01":
			ka, _ := cl.HTTP01ChallengeResponse(chal.Token)
			r.challtest(t, "/add-http01", map[string]string{"token": chal.Token, "content": ka})
		case "dns-01":
			v, _ := cl.DNS01ChallengeRecord(chal.Token)
			r.challtest(t, "/set-txt", map[string]string{"host": "_acme-challenge." + strings.TrimPrefix(name, "*.") + ".", "value": v})
		case "tls-alpn-01":
			thumb, _ := acme.JWKThumbprint(cl.Key.Public())
			r.challtest(t, "/add-tlsalpn01", map[string]string{"host": name, "content": chal.Token + "." + thumb})
		}
		if _, err := cl.Accept(ctx, chal); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.WaitAuthorization(ctx, u); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	if _, err := cl.WaitOrder(ctx, o.URI); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, key)
	chain, certURL, err := cl.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	return chain, certURL, key
}

func TestPebbleIssuance(t *testing.T) {
	r := startPebbleRig(t, nil, pebbleEnv())
	cl := r.client(t)
	ctx := context.Background()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	for name, typ := range map[string]string{"http.example.test": "http-01", "dns.example.test": "dns-01",
		"alpn.example.test": "tls-alpn-01"} {
		t.Run(typ, func(t *testing.T) {
			chain, certURL, _ := r.issue(t, cl, name, typ)
			if !strings.Contains(certURL, "/certZ/") {
				t.Errorf("certificate URL %s is not Pebble's /certZ/", certURL)
			}
			leaf, err := x509.ParseCertificate(chain[0])
			if err != nil || leaf.DNSNames[0] != name {
				t.Fatalf("leaf: %v %v", err, leaf)
			}
		})
	}
}

// TestPebbleChainsAndRevocation checks PEBBLE_CHAIN_LENGTH and
// PEBBLE_ALTERNATE_ROOTS as Pebble serves them: chain n of every
// certificate (the default at /certZ/<serial>, the others at
// /certZ/<serial>/alternate/<n>) is the leaf plus CHAIN_LENGTH
// intermediates, verifies under /roots/<n> only, and starts with
// /intermediates/<n>; then a revoked certificate's status at
// /cert-status-by-serial/.
func TestPebbleChainsAndRevocation(t *testing.T) {
	for alg, want := range map[string]x509.PublicKeyAlgorithm{"rsa": x509.RSA, "ecdsa": x509.ECDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			r := startPebbleRig(t, map[string]any{"keyAlgorithm": alg},
				pebbleEnv("PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_CHAIN_LENGTH=2", "PEBBLE_ALTERNATE_ROOTS=2"))
			testPebbleChains(t, r, want)
		})
	}
}

// testPebbleChains issues, checks the chains and revokes (see
// TestPebbleChainsAndRevocation); every intermediate has a key of type alg.
func testPebbleChains(t *testing.T, r *pebbleRig, alg x509.PublicKeyAlgorithm) {
	cl := r.client(t)
	ctx := context.Background()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	chain, certURL, _ := r.issue(t, cl, "chain.example.test", "http-01")
	alts, err := cl.ListCertAlternates(ctx, certURL)
	if err != nil || len(alts) != 2 || !strings.Contains(alts[0], "/alternate/") {
		t.Fatalf("alternates = %v, %v", alts, err)
	}
	chains := [][][]byte{chain}
	for _, u := range alts {
		alt, err := cl.FetchCert(ctx, u, true)
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, alt)
	}
	leaf, _ := x509.ParseCertificate(chain[0])
	if issuer, err := x509.ParseCertificate(chain[1]); err != nil || issuer.PublicKeyAlgorithm != alg {
		t.Errorf("the ECDSA leaf's issuer: %v, want a %s key", err, alg)
	}
	for n, c := range chains {
		if len(c) != 3 {
			t.Errorf("chain %d: %d certificates, want the leaf and 2 intermediates", n, len(c))
		}
		if _, b := r.mgmtGet(t, fmt.Sprintf("/intermediates/%d", n)); !bytes.Equal(pemCert(t, b).Raw, c[1]) {
			t.Errorf("/intermediates/%d is not chain %d's first intermediate", n, n)
		}
		for m := range chains {
			_, b := r.mgmtGet(t, fmt.Sprintf("/roots/%d", m))
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(pemCert(t, b))
			for _, der := range c[1:] {
				ic, _ := x509.ParseCertificate(der)
				inter.AddCert(ic)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); (err == nil) != (m == n) {
				t.Errorf("chain %d under /roots/%d: %v", n, m, err)
			}
		}
	}
	serial := fmt.Sprintf("%x", leaf.SerialNumber)
	var st struct{ Status string }
	if _, b := r.mgmtGet(t, "/cert-status-by-serial/"+serial); json.Unmarshal(b, &st) != nil || st.Status != "Valid" {
		t.Fatalf("before revoke: %s", b)
	}
	if err := cl.RevokeCert(ctx, nil, chain[0], acme.CRLReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if _, b := r.mgmtGet(t, "/cert-status-by-serial/"+serial); json.Unmarshal(b, &st) != nil || st.Status != "Revoked" {
		t.Fatalf("after revoke: %s", b)
	}
}

// pemCert parses the first PEM certificate in b or fails the test.
func pemCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	certs := pemCerts(t, b)
	if len(certs) == 0 {
		t.Fatalf("no PEM certificate in %q", b)
	}
	return certs[0]
}

func TestPebbleEABRequired(t *testing.T) {
	hmacKey := make([]byte, 32)
	_, _ = rand.Read(hmacKey)
	r := startPebbleRig(t, map[string]any{"externalAccountBindingRequired": true,
		"externalAccountMACKeys": map[string]string{"kid-1": base64.RawURLEncoding.EncodeToString(hmacKey)}}, pebbleEnv())
	ctx := context.Background()
	_, err := r.client(t).Register(ctx, &acme.Account{}, acme.AcceptTOS)
	var ae *acme.Error
	if !errors.As(err, &ae) || !strings.HasSuffix(ae.ProblemType, "externalAccountRequired") {
		t.Fatalf("without EAB: %v", err)
	}
	if _, err := r.client(t).Register(ctx, &acme.Account{ExternalAccountBinding: &acme.ExternalAccountBinding{
		KID: "kid-1", Key: hmacKey}}, acme.AcceptTOS); err != nil {
		t.Fatalf("with EAB: %v", err)
	}
}

// TestPebbleNonceReject: PEBBLE_WFE_NONCEREJECT=100 rejects every signed
// POST with badNonce (x/crypto/acme would retry forever, so post directly).
func TestPebbleNonceReject(t *testing.T) {
	r := startPebbleRig(t, nil, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=100"})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	code, b := signedPost(t, r, key, r.acme+"/sign-me-up", map[string]any{"termsOfServiceAgreed": true})
	if code != http.StatusBadRequest || !strings.Contains(string(b), "urn:ietf:params:acme:error:badNonce") {
		t.Fatalf("%d %s", code, b)
	}
}

// TestPebbleStartErrors runs the binary on broken configs: the error
// names the key, and unknown keys get one warning line.
func TestPebbleStartErrors(t *testing.T) {
	if os.Getenv("PEBBLE_COMPAT") != "" {
		t.Skip("checks fakeca's own error texts, not Pebble's (scripts/pebble-compat-test.sh)")
	}
	bin := fakecaBinary(t)
	tests := []struct {
		name, config, want string
		fails              bool
	}{
		{"wrong type names the key", `{"pebble":{"listenAddress":"127.0.0.1:0","httpPort":"5002"}}`, "pebble.httpPort", true},
		{"listenAddress as a number", `{"pebble":{"listenAddress":14000}}`, "pebble.listenAddress: want a string, got a number 14000", true},
		{"validityPeriod as a string", `{"pebble":{"listenAddress":"127.0.0.1:0","profiles":{"p":{"validityPeriod":"90d"}}}}`,
			"pebble.profiles.p.validityPeriod: want a number, got string", true},
		{"unknown keys warn once", `{"pebble":{"listenAddress":"127.0.0.1:0","fancyKey":1,"other":2},"x":1}`,
			"warning: config pebble.json: ignoring unknown keys: pebble.fancyKey, pebble.other, x\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "pebble.json"), []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "pebble", "-config", "pebble.json")
			cmd.Dir, cmd.Env = dir, []string{}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if tc.fails != (err != nil && ctx.Err() == nil) {
				t.Fatalf("run: %v (ctx %v)\n%s", err, ctx.Err(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q does not contain %q", stderr.String(), tc.want)
			}
		})
	}
}
