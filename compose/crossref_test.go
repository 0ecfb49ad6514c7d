package compose_test

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Names the manifests agree on.
const (
	namespace       = "fakeca"
	serviceName     = "fakeca"
	deploymentName  = "fakeca"
	configMapName   = "fakeca-config"
	cmNamespace     = "cert-manager" // cert-manager's --cluster-resource-namespace
	clusterDomain   = "cluster.local"
	boulderBackdate = time.Hour // fakeca backdates notBefore like Boulder, at most validity/10 (ca/config.go)
	minRenewBefore  = 5 * time.Minute
	dnsServicePort  = 53
	acmeServicePort = 443
)

// fakecaConfig is the part of the ConfigMap's fakeca.yaml these tests
// compare with the other objects; the binary test runs the whole file.
type fakecaConfig struct {
	Listen     string `json:"listen"`
	MgmtListen string `json:"mgmtListen"`
	HTTPListen string `json:"httpListen"`
	DataDir    string `json:"dataDir"`
	PublicURL  string `json:"publicURL"`
	CA         struct {
		EABKeys  map[string]string `json:"eabKeys"`
		Profiles map[string]struct {
			Validity string `json:"validity"`
		} `json:"profiles"`
	} `json:"ca"`
	DNS struct {
		Listen string   `json:"listen"`
		Zones  []string `json:"zones"`
	} `json:"dns"`
}

// k8sBase is the decoded compose/k8s plus what the tests derive from it.
type k8sBase struct {
	all        []manifest
	deployment *appsv1.Deployment
	container  corev1.Container
	service    *corev1.Service
	configMap  *corev1.ConfigMap
	config     fakecaConfig
	configFile string // the ConfigMap key --config names
}

func loadBase(t *testing.T) k8sBase {
	t.Helper()
	b := k8sBase{all: loadAll(t)}
	b.deployment = find[*appsv1.Deployment](t, b.all, "Deployment", namespace, deploymentName)
	if n := len(b.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment has %d containers, want 1", n)
	}
	b.container = b.deployment.Spec.Template.Spec.Containers[0]
	b.service = find[*corev1.Service](t, b.all, "Service", namespace, serviceName)
	b.configMap = find[*corev1.ConfigMap](t, b.all, "ConfigMap", namespace, configMapName)
	cfgPath := flagValues(b.container.Args, "config")
	if len(cfgPath) != 1 {
		t.Fatalf("Deployment args %q: want one --config", b.container.Args)
	}
	mount := mountFor(t, b.container, path.Dir(cfgPath[0]))
	vol := volumeNamed(t, b.deployment, mount.Name)
	if vol.ConfigMap == nil || vol.ConfigMap.Name != configMapName {
		t.Fatalf("--config %s is not in ConfigMap %s", cfgPath[0], configMapName)
	}
	b.configFile = path.Base(cfgPath[0])
	data, ok := b.configMap.Data[b.configFile]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %q (named by --config)", configMapName, b.configFile)
	}
	if err := yaml.Unmarshal([]byte(data), &b.config); err != nil {
		t.Fatalf("ConfigMap %s %s: %v", configMapName, b.configFile, err)
	}
	return b
}

// flagValues returns the values of --name=value and --name value in args.
func flagValues(args []string, name string) []string {
	var out []string
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			out = append(out, v)
		} else if a == "--"+name && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

func mountFor(t *testing.T, c corev1.Container, mountPath string) corev1.VolumeMount {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == mountPath {
			return m
		}
	}
	t.Fatalf("container %s mounts nothing at %s", c.Name, mountPath)
	return corev1.VolumeMount{}
}

func volumeNamed(t *testing.T, d *appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("Deployment has no volume %q", name)
	return corev1.Volume{}
}

// serviceDNSNames are the names a Service answers to inside the cluster.
func serviceDNSNames(svc *corev1.Service) []string {
	n, ns := svc.Name, svc.Namespace
	return []string{n, n + "." + ns, n + "." + ns + ".svc", n + "." + ns + ".svc." + clusterDomain}
}

func containerPort(t *testing.T, c corev1.Container, name string) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return corev1.ContainerPort{}
}

func portOf(t *testing.T, hostport string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("%q is not host:port", hostport)
	}
	return int32(n)
}

// TestKustomizationListsEveryManifest: kustomize applies every file of
// compose/k8s, and all of them live in its namespace.
func TestKustomizationListsEveryManifest(t *testing.T) {
	b := loadBase(t)
	k := find[*kustomization](t, b.all, "Kustomization", "", "")
	files, _ := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	var want []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			want = append(want, filepath.Base(f))
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, files %v", got, want)
	}
	if k.Namespace != namespace {
		t.Errorf("kustomization namespace %q", k.Namespace)
	}
	for _, m := range b.all {
		if !strings.HasPrefix(m.file, "k8s"+string(filepath.Separator)) || m.kind == "Kustomization" {
			continue
		}
		if m.kind == "Namespace" {
			if m.name != namespace || m.namespace != "" {
				t.Errorf("%s: want Namespace %s", m, namespace)
			}
		} else if m.namespace != namespace {
			t.Errorf("%s: namespace %q, want %q", m, m.namespace, namespace)
		}
	}
	for _, img := range k.Images {
		if !strings.HasPrefix(b.container.Image, img.Name+":") {
			t.Errorf("kustomization image %q does not match the Deployment's %q", img.Name, b.container.Image)
		}
	}
}

// TestDeploymentWiring: everything the Deployment and Service name exists,
// ports and paths agree with fakeca's configuration, and the pod is locked
// down (non-root, read-only root, no privileges, resources, probes).
func TestDeploymentWiring(t *testing.T) {
	b := loadBase(t)
	t.Run("references", func(t *testing.T) { checkReferences(t, b) })
	t.Run("listeners", func(t *testing.T) { checkListeners(t, b) })
	t.Run("service ports", func(t *testing.T) { checkServicePorts(t, b) })
	t.Run("locked down", func(t *testing.T) { checkLockedDown(t, b) })
}

// checkReferences: selectors match, and every object the pod names exists.
func checkReferences(t *testing.T, b k8sBase) {
	d, c, pod := b.deployment, b.container, b.deployment.Spec.Template.Spec
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template", k, v)
		}
	}
	for k, v := range b.service.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod template", k, v)
		}
	}
	find[*corev1.ServiceAccount](t, b.all, "ServiceAccount", namespace, pod.ServiceAccountName)
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			find[*corev1.ConfigMap](t, b.all, "ConfigMap", namespace, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			find[*corev1.PersistentVolumeClaim](t, b.all, "PersistentVolumeClaim", namespace, v.PersistentVolumeClaim.ClaimName)
		case v.EmptyDir != nil:
		default:
			t.Errorf("volume %s: unexpected source", v.Name)
		}
	}
	for _, m := range c.VolumeMounts {
		volumeNamed(t, d, m.Name)
	}
	for _, e := range c.Env {
		if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
			s := find[*corev1.Secret](t, b.all, "Secret", namespace, r.SecretKeyRef.Name)
			if _, ok := s.StringData[r.SecretKeyRef.Key]; !ok {
				t.Errorf("env %s: Secret %s has no key %q", e.Name, s.Name, r.SecretKeyRef.Key)
			}
		}
	}
}

// checkListeners: fakeca listens where the container ports say, keeps its
// data on the volume, and its certificate covers the Service's names.
func checkListeners(t *testing.T, b k8sBase) {
	c, cfg := b.container, b.config
	for name, listen := range map[string]string{"acme": cfg.Listen, "mgmt": cfg.MgmtListen, "http": cfg.HTTPListen,
		"dns-udp": cfg.DNS.Listen, "dns-tcp": cfg.DNS.Listen} {
		if p := containerPort(t, c, name); p.ContainerPort != portOf(t, listen) {
			t.Errorf("container port %s is %d, fakeca listens on %s", name, p.ContainerPort, listen)
		}
		if host, _, _ := net.SplitHostPort(listen); host != "0.0.0.0" {
			t.Errorf("%s listener %s is not reachable from the Service", name, listen)
		}
	}
	data := mountFor(t, c, cfg.DataDir)
	if v := volumeNamed(t, b.deployment, data.Name); v.PersistentVolumeClaim == nil || data.ReadOnly {
		t.Errorf("dataDir %s is not a writable PersistentVolumeClaim", cfg.DataDir)
	}
	var hosts []string
	for _, v := range flagValues(c.Args, "tls-hosts") {
		hosts = append(hosts, strings.Split(v, ",")...)
	}
	for _, n := range serviceDNSNames(b.service) {
		if !slices.Contains(hosts, n) {
			t.Errorf("--tls-hosts %v lacks the Service name %s", hosts, n)
		}
	}
}

// checkServicePorts: ACME 443 → 14000, DNS 53/UDP and 53/TCP → 8053,
// management, each to a container port of the same protocol.
func checkServicePorts(t *testing.T, b k8sBase) {
	c, cfg := b.container, b.config
	want := map[string]struct {
		port     int32
		target   int32
		protocol corev1.Protocol
	}{
		"https":   {acmeServicePort, portOf(t, cfg.Listen), corev1.ProtocolTCP},
		"dns-udp": {dnsServicePort, portOf(t, cfg.DNS.Listen), corev1.ProtocolUDP},
		"dns-tcp": {dnsServicePort, portOf(t, cfg.DNS.Listen), corev1.ProtocolTCP},
		"mgmt":    {portOf(t, cfg.MgmtListen), portOf(t, cfg.MgmtListen), corev1.ProtocolTCP},
	}
	for _, sp := range b.service.Spec.Ports {
		cp := containerPort(t, c, sp.TargetPort.StrVal)
		if cp.Protocol != sp.Protocol {
			t.Errorf("Service port %s is %s, container port %s is %s", sp.Name, sp.Protocol, cp.Name, cp.Protocol)
		}
		if w, ok := want[sp.Name]; ok {
			if sp.Port != w.port || cp.ContainerPort != w.target || sp.Protocol != w.protocol {
				t.Errorf("Service port %s: %d/%s → %d, want %d/%s → %d", sp.Name, sp.Port, sp.Protocol, cp.ContainerPort, w.port, w.protocol, w.target)
			}
			delete(want, sp.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("Service lacks ports %v", slices.Sorted(maps.Keys(want)))
	}
}

// checkLockedDown: non-root, read-only root, no privileges, no token,
// resources, probes on the directory, one writer at a time.
func checkLockedDown(t *testing.T, b k8sBase) {
	d, c, pod := b.deployment, b.container, b.deployment.Spec.Template.Spec
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || sc == nil:
		t.Fatal("no securityContext")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0:
		t.Error("pod may run as root")
	case psc.FSGroup == nil || *psc.FSGroup != *psc.RunAsUser:
		t.Error("fsGroup must make the data volume writable for the non-root user")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("no RuntimeDefault seccomp profile")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Error("capabilities not dropped")
	case pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken:
		t.Error("service account token mounted")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/directory" || p.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
			containerPort(t, c, p.HTTPGet.Port.StrVal).ContainerPort != portOf(t, b.config.Listen) {
			t.Errorf("%s probe must GET https://…:%s/directory", name, b.config.Listen)
		}
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Error("with a ReadWriteOnce volume and one database owner the strategy must be Recreate")
	}
}

// tsigFlag is the Deployment's --tsig NAME:ALGORITHM:SECRET, with the
// secret still a $(VAR) reference.
type tsigFlag struct{ name, algorithm, secretVar string }

func deploymentTSIG(t *testing.T, c corev1.Container) tsigFlag {
	t.Helper()
	v := flagValues(c.Args, "tsig")
	if len(v) != 1 {
		t.Fatalf("want one --tsig in the Deployment, have %v", v)
	}
	parts := strings.SplitN(v[0], ":", 3)
	m := regexp.MustCompile(`^\$\(([A-Z_]+)\)$`).FindStringSubmatch(parts[len(parts)-1])
	if len(parts) != 3 || m == nil {
		t.Fatalf("--tsig %q is not NAME:ALGORITHM:$(VAR)", v[0])
	}
	return tsigFlag{parts[0], parts[1], m[1]}
}

// secretFromEnv returns the Secret value an env var of the container names.
func secretFromEnv(t *testing.T, b k8sBase, name string) string {
	t.Helper()
	for _, e := range b.container.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s := find[*corev1.Secret](t, b.all, "Secret", namespace, e.ValueFrom.SecretKeyRef.Name)
			return s.StringData[e.ValueFrom.SecretKeyRef.Key]
		}
	}
	t.Fatalf("container has no env %s from a Secret", name)
	return ""
}

// cmSecret returns a Secret's value in cert-manager's namespace.
func cmSecret(t *testing.T, all []manifest, name, key string) string {
	t.Helper()
	for _, m := range all {
		if s, ok := m.obj.(*corev1.Secret); ok && s.Name == name && s.Namespace == cmNamespace {
			v, ok := s.StringData[key]
			if !ok {
				t.Fatalf("Secret %s/%s has no key %q", cmNamespace, name, key)
			}
			return v
		}
	}
	t.Fatalf("no Secret %s/%s among the examples", cmNamespace, name)
	return ""
}

// TestClusterIssuersMatchDeployment: the examples reach fakeca through its
// Service, with the TSIG key, EAB key and profiles fakeca is configured
// with, and every issuer has its own account key.
func TestClusterIssuersMatchDeployment(t *testing.T) {
	b := loadBase(t)
	tsig := deploymentTSIG(t, b.container)
	tsigValue := secretFromEnv(t, b, tsig.secretVar)
	svcFQDN := serviceDNSNames(b.service)[3]
	accountKeys := map[string]string{}
	issuers := map[string]*cmapi.ClusterIssuer{}
	for _, m := range b.all {
		ci, ok := m.obj.(*cmapi.ClusterIssuer)
		if !ok {
			continue
		}
		issuers[ci.Name] = ci
		a := acmeOf(t, ci)
		if u, err := url.Parse(a.Server); err != nil || u.Scheme != "https" || u.Host != svcFQDN || u.Path != "/directory" {
			t.Errorf("%s: server %q, want https://%s/directory (Service port %d)", m, a.Server, svcFQDN, acmeServicePort)
		}
		if prev, dup := accountKeys[a.PrivateKey.Name]; dup {
			t.Errorf("%s and %s share the account key Secret %s", prev, ci.Name, a.PrivateKey.Name)
		}
		accountKeys[a.PrivateKey.Name] = ci.Name
		if a.Profile != "" {
			if _, ok := b.config.CA.Profiles[a.Profile]; !ok {
				t.Errorf("%s: profile %q is not in fakeca's ca.profiles", m, a.Profile)
			}
		}
		if eab := a.ExternalAccountBinding; eab != nil {
			key, ok := b.config.CA.EABKeys[eab.KeyID]
			if !ok || cmSecret(t, b.all, eab.Key.Name, eab.Key.Key) != key {
				t.Errorf("%s: EAB key %q does not match fakeca's ca.eabKeys", m, eab.KeyID)
			}
		}
		for _, s := range a.Solvers {
			if s.DNS01 == nil || s.DNS01.RFC2136 == nil {
				continue
			}
			r := s.DNS01.RFC2136
			if r.Nameserver != net.JoinHostPort(svcFQDN, strconv.Itoa(dnsServicePort)) {
				t.Errorf("%s: rfc2136 nameserver %q is not fakeca's DNS Service", m, r.Nameserver)
			}
			if strings.TrimSuffix(r.TSIGKeyName, ".")+"." != tsig.name ||
				!strings.EqualFold(strings.ReplaceAll(tsig.algorithm, "-", ""), r.TSIGAlgorithm) {
				t.Errorf("%s: TSIG %s/%s, fakeca has --tsig %s:%s", m, r.TSIGKeyName, r.TSIGAlgorithm, tsig.name, tsig.algorithm)
			}
			if cmSecret(t, b.all, r.TSIGSecret.Name, r.TSIGSecret.Key) != tsigValue {
				t.Errorf("%s: TSIG secret differs from fakeca's", m)
			}
		}
	}
	if len(issuers) < 4 {
		t.Errorf("want the http01, rfc2136, EAB and profile examples, have %v", slices.Sorted(maps.Keys(issuers)))
	}
}

// TestCertificateExample: the Certificate uses an issuer whose solver
// covers its names, in a zone fakeca serves, and renews while the
// certificate is still valid.
func TestCertificateExample(t *testing.T) {
	b := loadBase(t)
	zones := append([]string{"test"}, b.config.DNS.Zones...)
	crt := find[*cmapi.Certificate](t, b.all, "Certificate", "default", "web")
	if crt.Spec.IssuerRef.Kind != "ClusterIssuer" {
		t.Fatalf("Certificate issuerRef %+v is not a ClusterIssuer", crt.Spec.IssuerRef)
	}
	ci := find[*cmapi.ClusterIssuer](t, b.all, "ClusterIssuer", "", crt.Spec.IssuerRef.Name)
	for _, n := range crt.Spec.DNSNames {
		if !slices.ContainsFunc(zones, func(z string) bool { return strings.HasSuffix(n, "."+z) }) {
			t.Errorf("Certificate name %s is in no zone fakeca serves (%v)", n, zones)
		}
		covered := false
		for _, s := range acmeOf(t, ci).Solvers {
			if s.Selector == nil || slices.ContainsFunc(s.Selector.DNSZones, func(z string) bool { return strings.HasSuffix(n, "."+z) }) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("no solver of %s covers %s", ci.Name, n)
		}
	}
	p, ok := b.config.CA.Profiles[acmeOf(t, ci).Profile]
	if !ok {
		t.Fatalf("issuer %s: profile %q not configured", ci.Name, acmeOf(t, ci).Profile)
	}
	validity, err := time.ParseDuration(p.Validity)
	if err != nil {
		t.Fatal(err)
	}
	life := validity - min(boulderBackdate, validity/10) // what is left of the certificate at issuance
	if rb := crt.Spec.RenewBefore; rb == nil || rb.Duration < minRenewBefore || rb.Duration >= life {
		t.Errorf("renewBefore %v: want between cert-manager's minimum %v and the %v the certificate lives after issuance", rb, minRenewBefore, life)
	}
}

// TestCoreDNSSnippet: the Corefile block forwards a zone fakeca serves to
// its DNS Service port.
func TestCoreDNSSnippet(t *testing.T) {
	b := loadBase(t)
	data, err := os.ReadFile(filepath.Join("cert-manager", "coredns.Corefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^([a-z0-9.-]+):(\d+) \{\n((?:    .*\n)+)\}\n`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("no CoreDNS server block in:\n%s", data)
	}
	zones := append([]string{"test"}, b.config.DNS.Zones...)
	if !slices.Contains(zones, m[1]) || m[2] != "53" {
		t.Errorf("server block %s:%s is not a zone fakeca serves (%v) on port 53", m[1], m[2], zones)
	}
	if want := "    forward . FAKECA_DNS_IP:" + strconv.Itoa(dnsServicePort) + "\n"; !strings.Contains(m[3], want) {
		t.Errorf("block does not forward to fakeca's DNS Service port:\n%s", m[3])
	}
}
