package compose_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// loopbackOverrides move every listener of a command under test to a free
// loopback port; appended last, they win over earlier flags and the
// configuration file.
var loopbackOverrides = []string{"--listen=127.0.0.1:0", "--mgmt-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
	"--dns-listen=127.0.0.1:0", "--challtestsrv-listen=127.0.0.1:0"}

// TestBuiltBinary builds fakeca with the Dockerfile's exact go build
// command and runs what the images run: the Deployment's arguments with
// its ConfigMap and Secret, the compose services' commands and healthcheck,
// and the image's CMD. "fakeca clusterissuer" against the running
// Deployment must print the example ClusterIssuers, valid against
// cert-manager's CRDs, with a caBundle that verifies fakeca's TLS
// certificate under every Service name.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs fakeca")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	stages := parseDockerfile(t, "Dockerfile")
	bin := buildLikeDockerfile(t, dockerfileBuild(t, stages))
	t.Run("deployment", func(t *testing.T) { testDeployment(t, bin) })
	t.Run("compose", func(t *testing.T) { testCompose(t, bin) })
	t.Run("image CMD", func(t *testing.T) {
		if out, err := exec.Command(bin, append(dockerCMD(t, stages), "--help")...).CombinedOutput(); err != nil {
			t.Errorf("CMD: %v\n%s", err, out)
		}
	})
}

func buildLikeDockerfile(t *testing.T, b dockerBuild) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fakeca")
	argv := append([]string{}, b.argv...)
	for i, a := range argv {
		if a == "OUT" {
			argv[i] = out
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), b.env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", b.env, argv, err, msg)
	}
	return out
}

// process is a running fakeca serve.
type process struct {
	acme, mgmt, http, dns string // host:port
	logs                  *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	bannerACME = regexp.MustCompile(`serving ACME at https://(\S+)/directory`)
	bannerMgmt = regexp.MustCompile(`management: https://(\S+)`)
	bannerHTTP = regexp.MustCompile(`public HTTP \(AIA/CRL/OCSP\): http://(\S+)`)
	bannerDNS  = regexp.MustCompile(`DNS \(RFC 2136 updates for [^)]*\): (\S+)`)
)

// startServe runs bin with args until its banner is printed, and stops it
// (SIGTERM, then kill) when the test ends.
func startServe(t *testing.T, bin string, args []string) process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	banner := make(chan string, 1)
	go func() {
		var text strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			text.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C") {
				banner <- text.String()
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case text := <-banner:
		a, m, h := bannerACME.FindStringSubmatch(text), bannerMgmt.FindStringSubmatch(text), bannerHTTP.FindStringSubmatch(text)
		if a == nil || m == nil || h == nil {
			t.Fatalf("banner without addresses:\n%s", text)
		}
		p := process{acme: a[1], mgmt: m[1], http: h[1], logs: logs}
		if d := bannerDNS.FindStringSubmatch(text); d != nil {
			p.dns = d[1]
		}
		return p
	case <-exited:
		t.Fatalf("fakeca %q exited: %s", args, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("fakeca %q printed no banner in 30s: %s", args, logs)
	}
	return process{}
}

// podArgs turns the Deployment's container args into a local command line
// the way the kubelet would run them: $(VAR) expanded from the container's
// env (Secrets), ConfigMap volumes written under root at their mount
// paths; then every listener on loopback and the data volume under root.
func podArgs(t *testing.T, b k8sBase, root string) []string {
	t.Helper()
	var mounts []string
	for _, m := range b.container.VolumeMounts {
		v := volumeNamed(t, b.deployment, m.Name)
		if v.ConfigMap == nil {
			continue
		}
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, data := range find[*corev1.ConfigMap](t, b.all, "ConfigMap", namespace, v.ConfigMap.Name).Data {
			if err := os.WriteFile(filepath.Join(dir, k), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mounts = append(mounts, m.MountPath)
	}
	varRef := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range b.container.Args {
		a = varRef.ReplaceAllStringFunc(a, func(ref string) string { return secretFromEnv(t, b, ref[2:len(ref)-1]) })
		for _, m := range mounts {
			if i := strings.Index(a, m+"/"); i >= 0 {
				a = a[:i] + filepath.Join(root, a[i:])
			}
		}
		args = append(args, a)
	}
	return append(append(args, loopbackOverrides...), "--data-dir="+filepath.Join(root, b.config.DataDir))
}

func testDeployment(t *testing.T, bin string) {
	b := loadBase(t)
	root := t.TempDir()
	p := startServe(t, bin, podArgs(t, b, root))
	bundleFile := filepath.Join(root, b.config.DataDir, "bundle.pem")

	examples := issuerCommands(t)
	if len(examples) < 3 {
		t.Fatalf("want the http01, rfc2136 and fiveminutes examples to name their command, have %v", examples)
	}
	for file, flags := range examples {
		t.Run(file, func(t *testing.T) {
			args := append([]string{"clusterissuer", "--mgmt-url=https://" + p.mgmt, "--ca-bundle=" + bundleFile}, flags...)
			ci, js := runClusterIssuer(t, bin, args)
			for _, problem := range validateCR(t, "ClusterIssuer", js) {
				t.Error(problem)
			}
			compareWithExample(t, file, js)
			verifyServing(t, p, ci.Spec.ACME.CABundle, serviceDNSNames(b.service))
			if prof := ci.Spec.ACME.Profile; prof != "" {
				checkProfileAdvertised(t, p, ci.Spec.ACME.CABundle, prof)
			}
		})
	}
	t.Run("trust on first use", func(t *testing.T) {
		_, js := runClusterIssuer(t, bin, []string{"clusterissuer", "--mgmt-url=https://" + p.mgmt, "--ca-bundle=/nonexistent", "--insecure"})
		_, want := runClusterIssuer(t, bin, []string{"clusterissuer", "--mgmt-url=", "--ca-bundle=" + bundleFile})
		if !bytes.Equal(js, want) {
			t.Errorf("--insecure printed\n%s\nthe bundle file gives\n%s", js, want)
		}
	})
	t.Run("walkthrough: five-minute profile, fault, journal", func(t *testing.T) {
		testWalkthrough(t, bin, b, p, bundleFile)
	})
	t.Run("unknown bundle refused", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.pem")
		if err := os.WriteFile(other, otherRoot(t), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "clusterissuer", "--mgmt-url=https://"+p.mgmt, "--ca-bundle="+other).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "certificate signed by unknown authority") {
			t.Errorf("with another CA's bundle: %v\n%s", err, out)
		}
	})
}

// testWalkthrough plays the README's "Use with cert-manager" steps against
// the Deployment's fakeca with fakeca's own client in cert-manager's place
// (DNS-01 over RFC 2136 with the Deployment's TSIG key, the profile of the
// five-minute issuer): the certificate lives ten minutes; with
// compose/faults/dns-servfail.yaml posted the next order fails with
// Boulder's DNS problem, and the event journal says why.
func testWalkthrough(t *testing.T, bin string, b k8sBase, p process, bundleFile string) {
	ci := find[*cmapi.ClusterIssuer](t, b.all, "ClusterIssuer", "", "fakeca-fiveminutes")
	crt := find[*cmapi.Certificate](t, b.all, "Certificate", "default", "web")
	tsig := deploymentTSIG(t, b.container)
	dir := t.TempDir()
	issue := func(t *testing.T) (string, error) {
		t.Helper()
		args := []string{"issue", "--server=https://" + p.acme + "/directory", "--ca-bundle=" + bundleFile,
			"--account-key=" + filepath.Join(dir, "account.key"), "--out=" + filepath.Join(dir, "certs"),
			"--profile=" + ci.Spec.ACME.Profile, "--challenge=dns-01", "--dns-server=" + p.dns,
			"--tsig=" + tsig.name + ":" + tsig.algorithm + ":" + secretFromEnv(t, b, tsig.secretVar), "--timeout=60s"}
		for _, n := range crt.Spec.DNSNames {
			args = append(args, "--domain="+n)
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}

	if out, err := issue(t); err != nil {
		t.Fatalf("issue: %v\n%s\n%s", err, out, p.logs)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, "certs", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("cert.pem holds no PEM block")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	left := time.Until(leaf.NotAfter)
	if rb := crt.Spec.RenewBefore.Duration; left < rb+time.Minute || left > 11*time.Minute {
		t.Errorf("the %s certificate is valid for %v after issuance; want about nine minutes (renewBefore %v)", ci.Spec.ACME.Profile, left, rb)
	}

	mgmt := mgmtClient(t, bundleFile)
	rule, err := os.ReadFile(filepath.Join("faults", "dns-servfail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := mgmt(http.MethodPost, "https://"+p.mgmt+"/faults", rule); status != http.StatusCreated {
		t.Fatalf("POST /faults: %d %s", status, body)
	}
	out, err := issue(t)
	const want = "DNS problem: SERVFAIL looking up TXT for _acme-challenge.web.example.test"
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("with the fault, issue: %v\n%s", err, out)
	}
	status, body := mgmt(http.MethodGet, "https://"+p.mgmt+"/events?identifier="+crt.Spec.DNSNames[0], nil)
	var journal struct {
		Events []struct {
			Kind    string `json:"kind"`
			Rule    string `json:"rule"`
			Problem *struct {
				Type   string `json:"type"`
				Detail string `json:"detail"`
			} `json:"problem"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &journal); status != http.StatusOK || err != nil {
		t.Fatalf("GET /events: %d %v %s", status, err, body)
	}
	var fired, failed bool
	for _, e := range journal.Events {
		fired = fired || (e.Kind == "fault-fired" && e.Rule == "dns-servfail")
		failed = failed || (e.Kind == "validation-failed" && e.Problem != nil && strings.Contains(e.Problem.Detail, want))
	}
	if !fired || !failed {
		t.Errorf("journal lacks fault-fired (%v) or validation-failed with the problem (%v):\n%s", fired, failed, body)
	}
	if status, body := mgmt(http.MethodDelete, "https://"+p.mgmt+"/faults/dns-servfail", nil); status != http.StatusOK {
		t.Errorf("DELETE /faults/dns-servfail: %d %s", status, body)
	}
}

// mgmtClient calls fakeca's management API, trusting only its bundle.
func mgmtClient(t *testing.T, bundleFile string) func(method, url string, body []byte) (int, []byte) {
	t.Helper()
	pemBytes, err := os.ReadFile(bundleFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)
	return func(method, url string, body []byte) (int, []byte) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
}

// issuerCommands maps each example file to the clusterissuer flags its
// comment says print the same object ("same object as / fakeca clusterissuer …").
func issuerCommands(t *testing.T) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("cert-manager", "clusterissuer-*.yaml"))
	re := regexp.MustCompile(`(?i)same object as\s*\n#\s+fakeca clusterissuer([^\n]*)\n`)
	out := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := re.FindSubmatch(data); m != nil {
			out[f] = strings.Fields(string(m[1]))
		}
	}
	return out
}

func runClusterIssuer(t *testing.T, bin string, args []string) (*cmapi.ClusterIssuer, []byte) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fakeca %q: %v\n%s", args, err, stderr.String())
	}
	ms, err := decodeDocs("clusterissuer output", stdout.Bytes())
	if err != nil || len(ms) != 1 || ms[0].kind != "ClusterIssuer" {
		t.Fatalf("fakeca %q printed %d objects, %v:\n%s", args, len(ms), err, stdout.String())
	}
	ci := ms[0].obj.(*cmapi.ClusterIssuer)
	if ci.Spec.ACME == nil || len(ci.Spec.ACME.CABundle) == 0 {
		t.Fatalf("no caBundle:\n%s", stdout.String())
	}
	return ci, ms[0].json
}

// compareWithExample: the command's object equals the example's, but for
// the caBundle the example cannot know.
func compareWithExample(t *testing.T, file string, generated []byte) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decodeDocs(file, data)
	if err != nil {
		t.Fatal(err)
	}
	var example []byte
	for _, m := range ms {
		if m.kind == "ClusterIssuer" {
			example = m.json
		}
	}
	var got, want map[string]any
	if err := utiljson.Unmarshal(generated, &got); err != nil {
		t.Fatal(err)
	}
	if err := utiljson.Unmarshal(example, &want); err != nil {
		t.Fatal(err)
	}
	delete(got["spec"].(map[string]any)["acme"].(map[string]any), "caBundle")
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("fakeca clusterissuer printed\n%s\n%s has\n%s", g, file, w)
	}
}

// verifyServing dials fakeca's ACME listener as cert-manager would reach
// it under each name, trusting only the caBundle.
func verifyServing(t *testing.T, p process, bundle []byte, names []string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("caBundle holds no PEM certificate")
	}
	for _, name := range names {
		conn, err := tls.Dial("tcp", p.acme, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Errorf("TLS to %s as %s with the caBundle: %v", p.acme, name, err)
			continue
		}
		_ = conn.Close()
	}
}

// checkProfileAdvertised: cert-manager refuses a profile the directory
// does not list in meta.profiles.
func checkProfileAdvertised(t *testing.T, p process, bundle []byte, profile string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.acme+"/directory", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dir struct {
		Meta struct {
			Profiles map[string]string `json:"profiles"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := dir.Meta.Profiles[profile]; !ok {
		t.Errorf("directory meta.profiles %v lacks %q", dir.Meta.Profiles, profile)
	}
}

// composeHost rewrites the compose network's addresses to this machine:
// service names and fixed addresses become 127.0.0.1, container ports the
// local ports they were moved to, and paths in the data volume the local
// data directory.
type composeHost struct {
	hosts   map[string]bool   // service names, fixed addresses, 0.0.0.0
	ports   map[string]string // container port → local port
	dataDir string            // in the container
	local   string            // on this machine
}

var hostPort = regexp.MustCompile(`([A-Za-z0-9.-]+):(\d+)`)

func (h composeHost) rewrite(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		a = hostPort.ReplaceAllStringFunc(a, func(hp string) string {
			m := hostPort.FindStringSubmatch(hp)
			if p, ok := h.ports[m[2]]; ok && h.hosts[m[1]] {
				return "127.0.0.1:" + p
			}
			return hp
		})
		if name, val, ok := strings.Cut(a, "="); ok {
			switch {
			case name == "--http01-port" && h.ports[val] != "":
				a = name + "=" + h.ports[val]
			case name == "--resolve":
				if pat, ip, ok := strings.Cut(val, "="); ok && h.hosts[ip] {
					a = name + "=" + pat + "=127.0.0.1"
				}
			}
		}
		out = append(out, strings.ReplaceAll(a, h.dataDir+"/", h.local+"/"))
	}
	return out
}

// freePort is a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// testCompose runs the compose services on this machine: fakeca's
// command, its healthcheck, then the client's "fakeca e2e" against it,
// with every address mapped to loopback.
func testCompose(t *testing.T, bin string) {
	c := loadCompose(t)
	fakeca, client := c.Services["fakeca"], c.Services["client"]
	root := t.TempDir()
	h := composeHost{hosts: map[string]bool{"0.0.0.0": true, "127.0.0.1": true}, ports: map[string]string{},
		dataDir: flagValues(fakeca.Command, "data-dir")[0]}
	h.local = filepath.Join(root, h.dataDir)
	for name := range c.Services {
		h.hosts[name] = true
	}
	for ip := range composeIPs(c) {
		h.hosts[ip] = true
	}
	http01 := flagValues(fakeca.Command, "http01-port")
	if len(http01) == 1 {
		h.ports[http01[0]] = freePort(t)
	}
	// Appended last: listeners on free loopback ports, the data volume
	// here, and AIA/CRL URLs on the actual HTTP listener.
	args := append(h.rewrite(fakeca.Command), loopbackOverrides...)
	p := startServe(t, bin, append(args, "--data-dir="+h.local, "--public-url="))
	for flag, addr := range map[string]string{"listen": p.acme, "mgmt-listen": p.mgmt, "dns-listen": p.dns, "http-listen": p.http} {
		_, local, _ := net.SplitHostPort(addr)
		for _, v := range flagValues(fakeca.Command, flag) {
			_, port, _ := net.SplitHostPort(v)
			h.ports[port] = local
		}
	}

	hc := h.rewrite(fakeca.Healthcheck.Test[2:])
	if out, err := exec.Command(bin, hc...).CombinedOutput(); err != nil {
		t.Fatalf("healthcheck %q: %v\n%s", hc, err, out)
	}

	help, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  ` + client.Command[0] + ` `).Match(help) {
		t.Skipf("fakeca has no %q command yet (the client service runs it)", client.Command[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cargs := h.rewrite(client.Command)
	out, err := exec.CommandContext(ctx, bin, cargs...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS: ")) {
		t.Errorf("client %q: %v\n%s\nfakeca's log:\n%s", cargs, err, out, p.logs)
	}
}

// otherRoot is a self-signed CA certificate fakeca never used.
func otherRoot(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not fakeca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
