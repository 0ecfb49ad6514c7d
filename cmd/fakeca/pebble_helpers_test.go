package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pebbleBin builds cmd/fakeca once per test binary (or uses FAKECA_BIN).
var pebbleBin = sync.OnceValues(func() (string, error) {
	if bin := os.Getenv("FAKECA_BIN"); bin != "" {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "fakeca-pebble-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fakeca")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", &exec.Error{Name: string(out), Err: err}
	}
	return bin, nil
})

func fakecaBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin, err := pebbleBin()
	if err != nil {
		t.Skipf("cannot build cmd/fakeca: %v", err)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// proc is a started fakeca process with its output.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	stdout strings.Builder
	stderr strings.Builder
	mu     sync.Mutex
}

// kill stops the process with SIGKILL, as harnesses do, and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String() + p.stderr.String()
}

// startProc runs bin (as name, e.g. through a "pebble" symlink) in dir
// with only env, waits until waitAddr accepts connections, and kills the
// process with SIGKILL at the end of the test, as harnesses do.
func startProc(t *testing.T, bin, name, dir string, env []string, waitAddr string, args ...string) *proc {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(link, args...)}
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, &p.stdout}, lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", waitAddr, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited early:\n%s", name, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s:\n%s", name, waitAddr, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeServingCert writes a test CA-signed certificate for localhost and
// 127.0.0.1 at dir/certs/localhost/{cert,key}.pem and the CA at
// dir/certs/pebble.minica.pem (the layout of Pebble's test/certs) and
// returns a pool trusting it.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test minica"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	d := filepath.Join(dir, "certs", "localhost")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem": {Type: "PRIVATE KEY", Bytes: keyDER}, "../pebble.minica.pem": {Type: "CERTIFICATE", Bytes: caDER}} {
		if err := os.WriteFile(filepath.Join(d, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool
}

// httpsClient trusts pool. Its transport also fills in the Location that
// real Pebble leaves off finalize responses (pebble#508; fakeca sends it)
// so that x/crypto/acme can poll the order: the same tests then run
// against Pebble itself (FAKECA_BIN pointing at a script that starts
// pebble or pebble-challtestsrv by the name it is called with).
func httpsClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: finalizeLocation{&http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
}

// finalizeLocation sets a missing Location on a finalize response to the
// order's Pebble URL (/finalize-order/<id> → /my-order/<id>).
type finalizeLocation struct{ base http.RoundTripper }

func (f finalizeLocation) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := f.base.RoundTrip(req)
	if err == nil && res.StatusCode == http.StatusOK && res.Header.Get("Location") == "" &&
		strings.Contains(req.URL.Path, "/finalize-order/") {
		u := *req.URL
		u.Path = strings.Replace(u.Path, "/finalize-order/", "/my-order/", 1)
		res.Header.Set("Location", u.String())
	}
	return res, err
}
