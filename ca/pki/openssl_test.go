package pki

import (
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestOpenSSLVerify checks leaves and chains with an independent verifier:
// openssl verify -CAfile bundle.pem -untrusted chain.pem leaf.pem.
func TestOpenSSLVerify(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found")
	}
	h, clk := newHierarchy(t, Config{AIABaseURL: "http://127.0.0.1:14080/aia/", CRLBaseURL: "http://127.0.0.1:14080/crl/"})
	profs := DefaultProfiles()
	serving, err := h.ServingCertificate([]string{"fakeca.test"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     string
		profile string
		ips     []net.IP
		chain   int  // index into Chains
		rsaOnly bool // trust only the RSA root
		wantErr bool
	}{
		{name: "RSA classic", key: "rsa", profile: "classic"},
		{name: "ECDSA classic default chain", key: "p256", profile: "classic"},
		{name: "ECDSA classic alternate chain", key: "p256", profile: "classic", chain: 1},
		{name: "ECDSA default chain via the cross-sign, only RSA root trusted", key: "p256", profile: "classic", rsaOnly: true},
		{name: "ECDSA alternate chain fails when only the RSA root is trusted", key: "p256", profile: "classic",
			chain: 1, rsaOnly: true, wantErr: true},
		{name: "ECDSA tlsserver without SKID", key: "p384", profile: "tlsserver"},
		{name: "RSA shortlived with IP", key: "rsa", profile: "shortlived", ips: []net.IP{net.ParseIP("192.0.2.1")}},
		{name: "serving certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, chain := serving.Leaf, h.Chains(h.ecIssuer.ID)[0]
			if tt.key != "" {
				l, err := h.Issue(LeafRequest{PublicKey: newTestKey(t, tt.key).Public(),
					DNSNames: []string{"a.example"}, IPs: tt.ips, Profile: profs[tt.profile]})
				if err != nil {
					t.Fatal(err)
				}
				leaf, chain = l.Cert, h.Chains(l.Issuer.ID)[tt.chain]
			}
			ca := h.BundlePEM()
			if tt.rsaOnly {
				ca = encodeCerts(h.Roots()[0])
			}
			if out, err := opensslVerify(t, openssl, clk.Now(), ca, chain, leaf); (err != nil) != tt.wantErr {
				t.Fatalf("openssl verify: err = %v, wantErr %v\n%s", err, tt.wantErr, out)
			}
		})
	}
}

// opensslVerify runs openssl verify -x509_strict -purpose sslserver at time
// at, trusting the PEM roots in ca, with chain as untrusted intermediates.
func opensslVerify(t *testing.T, openssl string, at time.Time, ca []byte, chain []*x509.Certificate, leaf *x509.Certificate) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{"ca.pem": ca, "chain.pem": encodeCerts(chain...), "leaf.pem": encodeCerts(leaf)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver",
		"-attime", strconv.FormatInt(at.Unix(), 10), "-CAfile", "ca.pem", "-untrusted", "chain.pem", "leaf.pem")
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
