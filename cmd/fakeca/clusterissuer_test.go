package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
)

// printedIssuer is the ClusterIssuer as "fakeca clusterissuer" prints it;
// decoding is strict, so a misplaced key fails. compose/compose_test.go
// validates the same output against cert-manager's CRDs.
type printedIssuer struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		ACME struct {
			Server     string `yaml:"server"`
			CABundle   string `yaml:"caBundle"`
			Profile    string `yaml:"profile"`
			PrivateKey struct {
				Name string `yaml:"name"`
			} `yaml:"privateKeySecretRef"`
			Solvers []struct {
				HTTP01 *struct {
					Ingress struct {
						IngressClassName string `yaml:"ingressClassName"`
					} `yaml:"ingress"`
				} `yaml:"http01"`
				DNS01 *struct {
					RFC2136 struct {
						Nameserver    string `yaml:"nameserver"`
						TSIGKeyName   string `yaml:"tsigKeyName"`
						TSIGAlgorithm string `yaml:"tsigAlgorithm"`
						TSIGSecret    *struct {
							Name string `yaml:"name"`
							Key  string `yaml:"key"`
						} `yaml:"tsigSecretSecretRef"`
					} `yaml:"rfc2136"`
				} `yaml:"dns01"`
				Selector *struct {
					DNSZones []string `yaml:"dnsZones"`
				} `yaml:"selector"`
			} `yaml:"solvers"`
		} `yaml:"acme"`
	} `yaml:"spec"`
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func decodeIssuer(t *testing.T, text string) printedIssuer {
	t.Helper()
	var ci printedIssuer
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&ci); err != nil {
		t.Fatalf("output does not decode: %v\n%s", err, text)
	}
	if ci.APIVersion != "cert-manager.io/v1" || ci.Kind != "ClusterIssuer" || len(ci.Spec.ACME.Solvers) != 1 {
		t.Fatalf("not a ClusterIssuer with one solver:\n%s", text)
	}
	return ci
}

// startInstance runs a fakeca on loopback whose serving certificate also
// names the Kubernetes Service, and writes its bundle as serve does.
func startInstance(t *testing.T) (*instance.Instance, string) {
	t.Helper()
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		TLSHosts: []string{"fakeca.fakeca.svc.cluster.local"}, CA: ca.DefaultConfig(),
		Validation: challengeval.Config{AlwaysValid: true}}
	inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Shutdown(context.Background()) })
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, inst.BundlePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return inst, bundle
}

// TestClusterIssuerFromRunningFakeca: the printed caBundle is the running
// fakeca's, however it was obtained, and verifies its TLS certificate under
// the Service name cert-manager uses.
func TestClusterIssuerFromRunningFakeca(t *testing.T) {
	inst, bundle := startInstance(t)
	mgmt := "--mgmt-url=https://" + inst.MgmtAddr()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, ci printedIssuer)
	}{
		{"defaults: http01 through nginx", []string{mgmt, "--ca-bundle", bundle}, func(t *testing.T, ci printedIssuer) {
			s := ci.Spec.ACME.Solvers[0]
			if ci.Metadata.Name != "fakeca" || ci.Spec.ACME.Server != defaultIssuerServer || ci.Spec.ACME.PrivateKey.Name != "fakeca-account-key" ||
				s.HTTP01 == nil || s.HTTP01.Ingress.IngressClassName != "nginx" || s.DNS01 != nil || ci.Spec.ACME.Profile != "" {
				t.Errorf("unexpected issuer %+v", ci)
			}
		}},
		{"rfc2136 with TSIG, zones and a profile", []string{mgmt, "--ca-bundle", bundle, "--name", "fakeca-dns01", "--solver", "rfc2136",
			"--dns-zone", "example.test", "--dns-zone", "b.test", "--profile", "shortlived", "--tsig-algorithm", "hmacsha512"},
			func(t *testing.T, ci printedIssuer) {
				s := ci.Spec.ACME.Solvers[0]
				if s.DNS01 == nil || s.HTTP01 != nil || s.Selector == nil || strings.Join(s.Selector.DNSZones, ",") != "example.test,b.test" {
					t.Fatalf("unexpected solver %+v", s)
				}
				r := s.DNS01.RFC2136
				if r.Nameserver != defaultIssuerDNSServer || r.TSIGKeyName != "cert-manager" || r.TSIGAlgorithm != "hmacsha512" ||
					r.TSIGSecret == nil || r.TSIGSecret.Name != "fakeca-tsig" || r.TSIGSecret.Key != "secret" ||
					ci.Spec.ACME.Profile != "shortlived" || ci.Spec.ACME.PrivateKey.Name != "fakeca-dns01-account-key" {
					t.Errorf("unexpected issuer %+v", ci)
				}
			}},
		{"rfc2136 unsigned", []string{mgmt, "--ca-bundle", bundle, "--solver", "rfc2136", "--tsig-key-name", "", "--dns-server", "10.96.0.53:53"},
			func(t *testing.T, ci printedIssuer) {
				s := ci.Spec.ACME.Solvers[0]
				if r := s.DNS01.RFC2136; r.Nameserver != "10.96.0.53:53" || r.TSIGKeyName != "" || r.TSIGSecret != nil || s.Selector != nil {
					t.Errorf("unexpected solver %+v", s)
				}
			}},
		{"trust on first use", []string{mgmt, "--ca-bundle", "/nonexistent", "--insecure"}, nil},
		{"bundle file alone", []string{"--mgmt-url=", "--ca-bundle", bundle}, nil},
		{"YAML-special server URL is quoted", []string{mgmt, "--ca-bundle", bundle, "--server", `https://x.test/dir?a=b#"c: d`},
			func(t *testing.T, ci printedIssuer) {
				if ci.Spec.ACME.Server != `https://x.test/dir?a=b#"c: d` {
					t.Errorf("server %q", ci.Spec.ACME.Server)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLI(t, append([]string{"clusterissuer"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			ci := decodeIssuer(t, out)
			pemBytes, err := base64.StdEncoding.DecodeString(ci.Spec.ACME.CABundle)
			if err != nil || !bytes.Equal(pemBytes, inst.BundlePEM()) {
				t.Fatalf("caBundle is not the running fakeca's bundle (%v)", err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pemBytes)
			conn, err := tls.Dial("tcp", inst.ACMEAddr(), &tls.Config{RootCAs: pool, ServerName: "fakeca.fakeca.svc.cluster.local", MinVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatalf("caBundle does not verify fakeca's TLS certificate: %v", err)
			}
			_ = conn.Close()
			if tc.check != nil {
				tc.check(t, ci)
			}
		})
	}
}

// TestClusterIssuerErrors: every refusal names the flag or says what is
// wrong with the bundle, as cert-manager's webhook would.
func TestClusterIssuerErrors(t *testing.T) {
	inst, bundle := startInstance(t)
	mgmt := "--mgmt-url=https://" + inst.MgmtAddr()
	_, otherBundle := startInstance(t)
	garbage := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bundle" {
			_, _ = w.Write([]byte("not PEM"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(garbage.Close)
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(inst.BundlePEM()) // a valid bundle, but not of this listener's CA
	}))
	t.Cleanup(foreign.Close)
	emptyPEM := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(emptyPEM, []byte("nothing here"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown solver", []string{"--solver", "tls-alpn01"}, `--solver: "tls-alpn01" is not http01 or rfc2136`},
		{"bad name", []string{"--name", "Fake_CA"}, `--name: "Fake_CA" is not a Kubernetes object name`},
		{"plain-HTTP server", []string{"--server", "http://fakeca/directory"}, `--server: "http://fakeca/directory" is not an https:// directory URL`},
		{"bad ingress class", []string{"--ingress-class", "Nginx!"}, `--ingress-class: "Nginx!"`},
		{"nameserver without port", []string{"--solver", "rfc2136", "--dns-server", "fakeca"}, `--dns-server: "fakeca" is not host:port`},
		{"bad TSIG algorithm", []string{"--solver", "rfc2136", "--tsig-algorithm", "hmac-sha256"}, `--tsig-algorithm: "hmac-sha256"`},
		{"bad TSIG secret name", []string{"--solver", "rfc2136", "--tsig-secret-name", "A B"}, `--tsig-secret-name: "A B"`},
		{"missing bundle file", []string{"--ca-bundle", "/nonexistent/bundle.pem"}, "--ca-bundle: open /nonexistent/bundle.pem"},
		{"bundle file without certificates", []string{"--ca-bundle", emptyPEM}, "holds no PEM certificate"},
		{"bundle of another fakeca", []string{"--ca-bundle", otherBundle}, "certificate signed by unknown authority"},
		{"management URL not https", []string{"--mgmt-url", "http://" + inst.MgmtAddr()}, "--mgmt-url: \"http://"},
		{"listener serves no certificates", []string{"--mgmt-url", garbage.URL, "--insecure"}, "cert bundle didn't contain any valid certificates"},
		{"no bundle endpoint", []string{"--mgmt-url", garbage.URL + "/nope", "--insecure"}, "404 Not Found"},
		{"served bundle does not verify the listener", []string{"--mgmt-url", foreign.URL, "--insecure"}, "does not verify the listener's own certificate"},
		{"offline with an empty file", []string{"--mgmt-url=", "--ca-bundle", emptyPEM}, "cert bundle didn't contain any valid certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"clusterissuer", mgmt, "--ca-bundle", bundle}, tc.args...)
			out, err := runCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if out != "" {
				t.Errorf("printed something on failure:\n%s", out)
			}
		})
	}
}

// TestBannerClusterIssuer: the startup banner prints the same template for
// the listener's own directory URL.
func TestBannerClusterIssuer(t *testing.T) {
	inst, _ := startInstance(t)
	var buf bytes.Buffer
	printBanner(&buf, inst, "/tmp/bundle.pem")
	text := buf.String()
	start, end := strings.Index(text, "---\n"), strings.LastIndex(text, "---\n")
	if start < 0 || end <= start {
		t.Fatalf("no ClusterIssuer between --- lines:\n%s", text)
	}
	ci := decodeIssuer(t, text[start+4:end])
	if ci.Spec.ACME.Server != inst.DirectoryURL() || ci.Spec.ACME.Solvers[0].HTTP01 == nil {
		t.Errorf("banner issuer %+v", ci)
	}
}
