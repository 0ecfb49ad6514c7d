package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"
)

// Defaults of "fakeca clusterissuer": the Service of compose/k8s
// (namespace fakeca, Service fakeca, ACME on 443, DNS on 53) and the TSIG
// key of its Deployment.
const (
	defaultIssuerServer     = "https://fakeca.fakeca.svc.cluster.local/directory"
	defaultIssuerDNSServer  = "fakeca.fakeca.svc.cluster.local:53"
	defaultIssuerMgmtURL    = "https://127.0.0.1:15000"
	defaultTSIGKeyName      = "cert-manager"
	defaultTSIGAlgorithm    = "HMACSHA256"
	defaultTSIGSecretName   = "fakeca-tsig"
	maxBundleBytes          = 1 << 20
	bundleFetchTimeout      = 10 * time.Second
	solverHTTP01, solverDNS = "http01", "rfc2136"
)

// issuerSpec is everything the ClusterIssuer template needs. The zero value
// is not valid; start from defaultIssuerSpec.
type issuerSpec struct {
	Name     string
	Server   string
	CABundle []byte // PEM; rendered as base64, as the field is []byte
	Profile  string // ACME profile; "" = the CA's default
	Solver   string // solverHTTP01 or solverDNS
	// IngressClass is the http01 solver's ingressClassName.
	IngressClass string
	// Nameserver, TSIG* and DNSZones configure the rfc2136 solver; an
	// empty TSIGKeyName sends unsigned updates.
	Nameserver     string
	TSIGKeyName    string
	TSIGAlgorithm  string
	TSIGSecretName string
	DNSZones       []string
}

func defaultIssuerSpec(server string, bundle []byte) issuerSpec {
	return issuerSpec{Name: "fakeca", Server: server, CABundle: bundle, Solver: solverHTTP01,
		IngressClass: "nginx", Nameserver: defaultIssuerDNSServer, TSIGKeyName: defaultTSIGKeyName,
		TSIGAlgorithm: defaultTSIGAlgorithm, TSIGSecretName: defaultTSIGSecretName}
}

// clusterIssuerTmpl is a cert-manager ClusterIssuer (cert-manager.io/v1)
// pointing at a fakeca; compose/cert-manager has the same objects with
// comments. Strings are JSON-quoted, which YAML reads as double-quoted.
var clusterIssuerTmpl = template.Must(template.New("ci").Funcs(template.FuncMap{
	"q":   func(s string) string { b, _ := json.Marshal(s); return string(b) },
	"b64": base64.StdEncoding.EncodeToString,
}).Parse(`apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: {{q .Name}}
spec:
  acme:
    server: {{q .Server}}
    caBundle: {{b64 .CABundle}}
{{- with .Profile}}
    profile: {{q .}}
{{- end}}
    privateKeySecretRef:
      name: {{q (print .Name "-account-key")}}
    solvers:
{{- if eq .Solver "http01"}}
      - http01:
          ingress:
            ingressClassName: {{q .IngressClass}}
{{- else}}
      - dns01:
          rfc2136:
            nameserver: {{q .Nameserver}}
{{- if .TSIGKeyName}}
            tsigKeyName: {{q .TSIGKeyName}}
            tsigAlgorithm: {{q .TSIGAlgorithm}}
            tsigSecretSecretRef:
              name: {{q .TSIGSecretName}}
              key: secret
{{- end}}
{{- with .DNSZones}}
        selector:
          dnsZones:
{{- range .}}
            - {{q .}}
{{- end}}
{{- end}}
{{- end}}
`))

// dns1123 is a Kubernetes object name (DNS-1123 subdomain).
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// validate checks what cert-manager's webhook would refuse; errors name
// the flag.
func (s issuerSpec) validate() error {
	if len(s.Name) > 253-len("-account-key") || !dns1123.MatchString(s.Name) {
		return fmt.Errorf("--name: %q is not a Kubernetes object name (lower-case DNS-1123 subdomain)", s.Name)
	}
	if u, err := url.Parse(s.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--server: %q is not an https:// directory URL", s.Server)
	}
	if _, err := parseBundle(s.CABundle); err != nil {
		return err
	}
	switch s.Solver {
	case solverHTTP01:
		if !dns1123.MatchString(s.IngressClass) {
			return fmt.Errorf("--ingress-class: %q is not an IngressClass name", s.IngressClass)
		}
	case solverDNS:
		if _, _, err := net.SplitHostPort(s.Nameserver); err != nil {
			return fmt.Errorf("--dns-server: %q is not host:port", s.Nameserver)
		}
		if s.TSIGKeyName == "" {
			break
		}
		switch strings.ToUpper(s.TSIGAlgorithm) {
		case "HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512":
		default:
			return fmt.Errorf("--tsig-algorithm: %q is not HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512", s.TSIGAlgorithm)
		}
		if !dns1123.MatchString(s.TSIGSecretName) {
			return fmt.Errorf("--tsig-secret-name: %q is not a Secret name", s.TSIGSecretName)
		}
	default:
		return fmt.Errorf("--solver: %q is not %s or %s", s.Solver, solverHTTP01, solverDNS)
	}
	return nil
}

// renderClusterIssuer writes the ClusterIssuer for s.
func renderClusterIssuer(w io.Writer, s issuerSpec) error {
	return clusterIssuerTmpl.Execute(w, s)
}

// parseBundle returns the certificates of a PEM bundle; it fails like
// cert-manager's webhook when there are none.
func parseBundle(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("CA bundle: cert bundle didn't contain any valid certificates")
	}
	return certs, nil
}

// bundleSource says where the CA bundle comes from: the management
// listener's /bundle (MgmtURL), verified with the CABundle file, or with
// nothing but its own consistency (Insecure); or, with MgmtURL empty, the
// CABundle file alone.
type bundleSource struct {
	MgmtURL  string
	CABundle string
	Insecure bool
}

// defaultBundleFile is where "fakeca serve" writes the bundle without
// --data-dir or --bundle-out.
func defaultBundleFile() string { return filepath.Join(os.TempDir(), "fakeca", "bundle.pem") }

// load returns the PEM trust bundle of the running fakeca.
func (b bundleSource) load(ctx context.Context) ([]byte, error) {
	if b.MgmtURL == "" {
		pemBytes, err := os.ReadFile(b.CABundle)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w", err)
		}
		return pemBytes, nil
	}
	u, err := url.Parse(b.MgmtURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--mgmt-url: %q is not an https:// URL", b.MgmtURL)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.Insecure {
		tlsCfg.InsecureSkipVerify = true // checked below against the bundle served
	} else {
		pemBytes, err := os.ReadFile(b.CABundle)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w (give the bundle fakeca wrote, e.g. <data-dir>/bundle.pem, or --insecure)", err)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		if !tlsCfg.RootCAs.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-bundle: %s holds no PEM certificate", b.CABundle)
		}
	}
	return fetchBundle(ctx, strings.TrimSuffix(u.String(), "/")+"/bundle", tlsCfg, u.Hostname())
}

// fetchBundle GETs the bundle and checks that it verifies the certificate
// the listener itself presented.
func fetchBundle(ctx context.Context, target string, tlsCfg *tls.Config, host string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, bundleFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("--mgmt-url: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the CA bundle: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBundleBytes))
	if err != nil {
		return nil, fmt.Errorf("fetching the CA bundle: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the CA bundle: GET %s: %s", target, resp.Status)
	}
	roots, err := parseBundle(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if err := verifyPeer(resp.TLS, roots, host); err != nil {
		return nil, fmt.Errorf("GET %s: the bundle served does not verify the listener's own certificate: %w", target, err)
	}
	return body, nil
}

// verifyPeer verifies the connection's certificate chain against roots.
func verifyPeer(cs *tls.ConnectionState, roots []*x509.Certificate, host string) error {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return errors.New("no TLS certificate")
	}
	opts := x509.VerifyOptions{DNSName: host, Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool()}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// newClusterIssuerCmd is "fakeca clusterissuer": print a ClusterIssuer
// whose caBundle comes from a running fakeca.
func newClusterIssuerCmd() *cobra.Command {
	s := defaultIssuerSpec(defaultIssuerServer, nil)
	src := bundleSource{MgmtURL: defaultIssuerMgmtURL, CABundle: defaultBundleFile()}
	cmd := &cobra.Command{
		Use:   "clusterissuer",
		Short: "Print a cert-manager ClusterIssuer for a running fakeca, caBundle filled in",
		Long: `Print a cert-manager ClusterIssuer (cert-manager.io/v1) whose caBundle is the trust bundle
of a running fakeca, read from its management listener (GET <mgmt-url>/bundle). The
connection is verified with --ca-bundle (the file fakeca wrote: <data-dir>/bundle.pem, or
--bundle-out, default ` + defaultBundleFile() + `); --insecure instead accepts the bundle the
listener serves if it verifies the listener's own certificate (trust on first use, e.g.
through 'kubectl port-forward'). With --mgmt-url "" the --ca-bundle file is used as is.

  kubectl -n fakeca port-forward svc/fakeca 15000 &
  fakeca clusterissuer --insecure --solver rfc2136 | kubectl apply -f -`,
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&s.Name, "name", s.Name, "ClusterIssuer name (the account key Secret is <name>-account-key)")
	fl.StringVar(&s.Server, "server", s.Server, "ACME directory URL as cert-manager reaches it (host must be in fakeca's --tls-hosts)")
	fl.StringVar(&s.Solver, "solver", s.Solver, "challenge solver: http01 (ingress) or rfc2136 (DNS-01 through fakeca's DNS server)")
	fl.StringVar(&s.Profile, "profile", "", "ACME profile to request (e.g. shortlived); default: the CA's default profile")
	fl.StringVar(&s.IngressClass, "ingress-class", s.IngressClass, "http01: ingressClassName of the solver's Ingress")
	fl.StringVar(&s.Nameserver, "dns-server", s.Nameserver, "rfc2136: fakeca's DNS server as cert-manager reaches it (host:port)")
	fl.StringVar(&s.TSIGKeyName, "tsig-key-name", s.TSIGKeyName, "rfc2136: TSIG key name (as in fakeca's --tsig); \"\" sends unsigned updates")
	fl.StringVar(&s.TSIGAlgorithm, "tsig-algorithm", s.TSIGAlgorithm, "rfc2136: HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512")
	fl.StringVar(&s.TSIGSecretName, "tsig-secret-name", s.TSIGSecretName, "rfc2136: Secret (key \"secret\") holding the base64 TSIG secret, in cert-manager's namespace")
	fl.StringArrayVar(&s.DNSZones, "dns-zone", nil, "rfc2136: use the solver only for names in this zone (repeatable)")
	fl.StringVar(&src.MgmtURL, "mgmt-url", src.MgmtURL, "fakeca's management listener; \"\" reads --ca-bundle instead")
	fl.StringVar(&src.CABundle, "ca-bundle", src.CABundle, "PEM bundle fakeca wrote: verifies the management listener (or is the bundle, with --mgmt-url \"\")")
	fl.BoolVar(&src.Insecure, "insecure", false, "don't verify the management listener with --ca-bundle; trust the bundle it serves if that verifies its own certificate")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		bundle, err := src.load(ctx)
		if err != nil {
			return err
		}
		s.CABundle = bundle
		if err := s.validate(); err != nil {
			return err
		}
		return renderClusterIssuer(cmd.OutOrStdout(), s)
	}
	return cmd
}
