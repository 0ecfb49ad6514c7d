package compose_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the module root, the Docker build context.
const repoRoot = ".."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	op   string // upper case: FROM, RUN, COPY, …
	args string
}

// stage is one FROM … [AS name] and its instructions.
type stage struct {
	from, name string
	ins        []instruction
}

func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instruction{strings.ToUpper(op), strings.TrimSpace(args)}
		if in.op == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", file, in.op)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages
}

// goBuildLine returns the go build command of a shell line, without
// RUN --mount options, as tokens; the -o value is replaced by OUT.
func goBuildTokens(line string) (tokens []string, out string) {
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "--mount=") {
			continue
		}
		tokens = append(tokens, f)
	}
	for i := range tokens {
		if tokens[i] == "-o" && i+1 < len(tokens) {
			out = strings.Trim(tokens[i+1], `"'`)
			tokens[i+1] = "OUT"
		}
	}
	return tokens, out
}

// ciBuildLine is .ci/run's build command.
func ciBuildLine(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "go build") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 1 {
		t.Fatalf(".ci/run has %d go build lines: %q", len(lines), lines)
	}
	return lines[0]
}

// dockerBuild is what the Dockerfile's build stage runs to make fakeca.
type dockerBuild struct {
	env    []string // K=V before the command
	argv   []string // go build …, -o value as OUT
	output string   // -o value
}

func dockerfileBuild(t *testing.T, stages []stage) dockerBuild {
	t.Helper()
	var found []dockerBuild
	for _, in := range stages[0].ins {
		if in.op != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		tokens, out := goBuildTokens(in.args)
		b := dockerBuild{output: out}
		for len(tokens) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(tokens[0]) {
			b.env, tokens = append(b.env, tokens[0]), tokens[1:]
		}
		b.argv = tokens
		found = append(found, b)
	}
	if len(found) != 1 {
		t.Fatalf("Dockerfile build stage has %d go build steps", len(found))
	}
	return found[0]
}

// TestDockerfile: multi-stage, the build stage runs exactly CI's go build,
// the final image is small, static and non-root, and the build context
// keeps everything the build needs.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) != 2 {
		t.Fatalf("want a build and a final stage, have %d", len(stages))
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || stages[0].from != "golang:"+string(goVersion[1]) || stages[0].name == "" {
		t.Errorf("build stage FROM %s AS %q, want golang:%s (go.mod) with a name", stages[0].from, stages[0].name, goVersion[1])
	}
	b := dockerfileBuild(t, stages)
	ciTokens, _ := goBuildTokens(ciBuildLine(t))
	if got := append(append([]string{}, b.env...), b.argv...); !slices.Equal(got, ciTokens) {
		t.Errorf("Dockerfile builds with %q, .ci/run with %q", got, ciTokens)
	}
	if !slices.Contains(b.env, "CGO_ENABLED=0") {
		t.Error("the binary must be static (CGO_ENABLED=0)")
	}

	final := stages[1]
	if final.from != "gcr.io/distroless/static:nonroot" && final.from != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", final.from)
	}
	var user, entrypoint string
	var copied []string
	for _, in := range final.ins {
		switch in.op {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			f := strings.Fields(in.args)
			if !slices.Contains(f, "--from="+stages[0].name) {
				t.Errorf("final stage COPY %s is not from the build stage", in.args)
			}
			copied = append(copied, f[len(f)-2])
		case "RUN":
			t.Errorf("final stage runs %q: it has no shell", in.args)
		}
	}
	if user != "65532:65532" && user != "65532" {
		t.Errorf("USER %q, want 65532 (non-root)", user)
	}
	if !slices.Contains(copied, b.output) || entrypoint != fmt.Sprintf(`[%q]`, b.output) {
		t.Errorf("final stage copies %v and runs %s, the build writes %s", copied, entrypoint, b.output)
	}

}

// TestDockerBuildContext: the build stage's COPY sources exist in the
// context, and .dockerignore keeps every directory the build compiles.
func TestDockerBuildContext(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	for _, in := range stages[0].ins {
		if in.op != "COPY" {
			continue
		}
		f := strings.Fields(in.args)
		for _, src := range f[:len(f)-1] {
			if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
				t.Errorf("COPY %s: %v", src, err)
			}
		}
	}
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "../cmd/fakeca").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, _ := filepath.Abs(repoRoot)
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(abs, dir); err == nil && !strings.HasPrefix(rel, "..") {
			needed = append(needed, filepath.ToSlash(rel))
		}
	}
	for _, pat := range strings.Fields(string(ignore)) {
		if strings.HasPrefix(pat, "#") {
			continue
		}
		p := strings.TrimPrefix(pat, "/")
		for _, n := range needed {
			if ok, _ := path.Match(p, n); ok || strings.HasPrefix(n, p+"/") {
				t.Errorf(".dockerignore %q excludes %s, which the build needs", pat, n)
			}
		}
	}
}

// composeFile is the subset of the Compose specification compose uses;
// decoding is strict, so any other key fails the test.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct{}      `json:"volumes"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `json:"subnet"`
			} `json:"config"`
		} `json:"ipam"`
	} `json:"networks"`
}

type composeService struct {
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build,omitempty"`
	Image       string   `json:"image"`
	Command     []string `json:"command"`
	Ports       []string `json:"ports,omitempty"`
	Volumes     []string `json:"volumes,omitempty"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	Tmpfs       []string `json:"tmpfs,omitempty"`
	CapDrop     []string `json:"cap_drop,omitempty"`
	SecurityOpt []string `json:"security_opt,omitempty"`
	Healthcheck *struct {
		Test     []string `json:"test"`
		Interval string   `json:"interval"`
		Timeout  string   `json:"timeout"`
		Retries  int      `json:"retries"`
	} `json:"healthcheck,omitempty"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on,omitempty"`
	Networks map[string]struct {
		IPv4Address string `json:"ipv4_address"`
	} `json:"networks,omitempty"`
}

// composeIPs maps each service's fixed address to the service name.
func composeIPs(c composeFile) map[string]string {
	out := map[string]string{}
	for name, s := range c.Services {
		for _, n := range s.Networks {
			out[n.IPv4Address] = name
		}
	}
	return out
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// mountOf returns the volume mounted at dir by a service.
func mountOf(s composeService, dir string) (volume string, ok bool) {
	for _, v := range s.Volumes {
		f := strings.Split(v, ":")
		if len(f) >= 2 && f[1] == dir {
			return f[0], true
		}
	}
	return "", false
}

// TestComposeFile: the compose file parses and refers only to things that
// exist: the build context and Dockerfile, images built by a service,
// declared volumes, services it depends on, and fakeca's listeners, names
// and files as the client uses them.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	fakeca, ok := c.Services["fakeca"]
	if !ok || fakeca.Build == nil {
		t.Fatal("no fakeca service with a build")
	}
	ctx := filepath.Join(".", fakeca.Build.Context)
	if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil {
		t.Errorf("build context %s is not the module root: %v", fakeca.Build.Context, err)
	}
	if df, _ := filepath.Abs(filepath.Join(ctx, fakeca.Build.Dockerfile)); df != mustAbs(t, "Dockerfile") {
		t.Errorf("build dockerfile %s is not compose/Dockerfile", fakeca.Build.Dockerfile)
	}
	built := map[string]bool{}
	for _, s := range c.Services {
		if s.Build != nil {
			built[s.Image] = true
		}
	}
	for name, s := range c.Services {
		if !built[s.Image] {
			t.Errorf("service %s uses image %q that no service builds", name, s.Image)
		}
		for _, v := range s.Volumes {
			vol := strings.Split(v, ":")[0]
			if _, ok := c.Volumes[vol]; !ok {
				t.Errorf("service %s mounts undeclared volume %q", name, vol)
			}
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on unknown service %s", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("service %s: want read_only and cap_drop ALL", name)
		}
	}
	for name, s := range c.Services {
		for netName, n := range s.Networks {
			nw, ok := c.Networks[netName]
			if !ok || len(nw.IPAM.Config) != 1 {
				t.Errorf("service %s joins undeclared network %s", name, netName)
				continue
			}
			_, subnet, err := net.ParseCIDR(nw.IPAM.Config[0].Subnet)
			if ip := net.ParseIP(n.IPv4Address); err != nil || ip == nil || !subnet.Contains(ip) {
				t.Errorf("service %s: address %s not in network %s's subnet", name, n.IPv4Address, netName)
			}
		}
	}
	if hc := fakeca.Healthcheck; hc != nil && (len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != "/fakeca") {
		t.Errorf("healthcheck %q must run /fakeca (the image has no shell)", hc.Test)
	}
}

// TestComposeClientReachesFakeca: the client's flags point at fakeca's
// service, ports, name and files, and fakeca's validator at the client.
func TestComposeClientReachesFakeca(t *testing.T) {
	c := loadCompose(t)
	fakeca := c.Services["fakeca"]

	// The client reaches fakeca by service name on its ACME port, the name
	// is in the serving certificate, and the bundle is in fakeca's data dir
	// on a shared volume.
	client, ok := c.Services["client"]
	if !ok || len(client.Command) == 0 || client.Command[0] != "e2e" {
		t.Fatalf("no client service running fakeca e2e: %+v", client)
	}
	server := flagValues(client.Command, "server")
	bundle := flagValues(client.Command, "ca-bundle")
	listen := flagValues(fakeca.Command, "listen")
	dataDir := flagValues(fakeca.Command, "data-dir")
	if len(server) != 1 || len(bundle) != 1 || len(listen) != 1 || len(dataDir) != 1 {
		t.Fatalf("client --server %v --ca-bundle %v, fakeca --listen %v --data-dir %v", server, bundle, listen, dataDir)
	}
	u, err := url.Parse(server[0])
	if err != nil || u.Scheme != "https" {
		t.Fatalf("client --server %q", server[0])
	}
	if _, ok := c.Services[u.Hostname()]; !ok || u.Port() != fmt.Sprint(portOf(t, listen[0])) {
		t.Errorf("client --server %s is not fakeca's service and ACME port (%s)", server[0], listen[0])
	}
	if !slices.Contains(strings.Split(strings.Join(flagValues(fakeca.Command, "tls-hosts"), ","), ","), u.Hostname()) {
		t.Errorf("fakeca's --tls-hosts lacks %s", u.Hostname())
	}
	fv, ok1 := mountOf(fakeca, dataDir[0])
	cv, ok2 := mountOf(client, path.Dir(bundle[0]))
	if !ok1 || !ok2 || fv != cv || path.Base(bundle[0]) != "bundle.pem" {
		t.Errorf("client --ca-bundle %s is not fakeca's %s/bundle.pem on a shared volume", bundle[0], dataDir[0])
	}
	// The client answers http-01 where fakeca's validator connects, and
	// sends its dns-01 updates and the cert-status check to fakeca.
	ips := composeIPs(c)
	resolve := flagValues(fakeca.Command, "resolve")
	domain := flagValues(client.Command, "domain")
	if len(resolve) != 1 || len(domain) != 1 || resolve[0] != domain[0]+"="+client.Networks["acme"].IPv4Address || ips[strings.SplitN(resolve[0], "=", 2)[1]] != "client" {
		t.Errorf("fakeca --resolve %v must map the client's --domain %v to the client's address", resolve, domain)
	}
	if h := flagValues(client.Command, "http01-listen"); len(h) != 1 || fmt.Sprint(portOf(t, h[0])) != strings.Join(flagValues(fakeca.Command, "http01-port"), "") {
		t.Errorf("client --http01-listen %v is not fakeca's --http01-port %v", h, flagValues(fakeca.Command, "http01-port"))
	}
	for clientFlag, fakecaFlag := range map[string]string{"dns-server": "dns-listen", "mgmt-url": "mgmt-listen"} {
		v := flagValues(client.Command, clientFlag)
		l := flagValues(fakeca.Command, fakecaFlag)
		if len(v) != 1 || len(l) != 1 {
			t.Errorf("client --%s %v, fakeca --%s %v", clientFlag, v, fakecaFlag, l)
			continue
		}
		hostport := strings.TrimPrefix(v[0], "https://")
		if host, _, _ := net.SplitHostPort(hostport); host != "fakeca" || portOf(t, hostport) != portOf(t, l[0]) {
			t.Errorf("client --%s %s is not fakeca's --%s %s", clientFlag, v[0], fakecaFlag, l[0])
		}
	}

	var listenPorts []string
	for _, f := range []string{"listen", "mgmt-listen", "http-listen", "dns-listen", "challtestsrv-listen"} {
		for _, v := range flagValues(fakeca.Command, f) {
			_, p, _ := net.SplitHostPort(v)
			listenPorts = append(listenPorts, p)
		}
	}
	for _, p := range fakeca.Ports {
		f := strings.Split(strings.Split(p, "/")[0], ":")
		if !slices.Contains(listenPorts, f[len(f)-1]) {
			t.Errorf("published port %s: fakeca listens on none of it (%v)", p, listenPorts)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// dockerCMD is the final stage's CMD as arguments.
func dockerCMD(t *testing.T, stages []stage) []string {
	t.Helper()
	for _, in := range stages[len(stages)-1].ins {
		if in.op == "CMD" {
			var args []string
			if err := json.Unmarshal([]byte(in.args), &args); err != nil {
				t.Fatalf("CMD %s is not exec form: %v", in.args, err)
			}
			return args
		}
	}
	return nil
}
