package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/internal/legotest"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
)

// TestPebbleLego drives `pebble` and `pebble-challtestsrv` processes with
// lego v5 through Pebble's paths: http-01, dns-01 and tls-alpn-01 through
// challtestsrv's API, the preferred chain of an alternate root, ARI at
// Pebble's renewalInfo path, and revocation.
func TestPebbleLego(t *testing.T) {
	r := startPebbleRig(t, map[string]any{"retryAfter": map[string]int{"authz": 1, "order": 1}},
		pebbleEnv("PEBBLE_ALTERNATE_ROOTS=1"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := legotest.NewClient(ctx, t, legotest.Options{DirURL: r.acme + "/dir", HTTPClient: r.http,
		UserAgent: "fakeca-pebble-lego-test", Timeout: 30 * time.Second})
	_, altRoot := r.mgmtGet(t, "/roots/1")
	altCN := pemCert(t, altRoot).Subject.CommonName
	for _, tc := range []struct{ name, typ, preferred string }{
		{"http.lego.test", "http-01", ""},
		{"alpn.lego.test", "tls-alpn-01", ""},
		{"dns.lego.test", "dns-01", altCN},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			p := challtestProvider{r: r, t: t, typ: tc.typ}
			cl.Challenge.Remove("http-01")
			cl.Challenge.Remove("tls-alpn-01")
			var err error
			switch tc.typ {
			case "http-01":
				err = cl.Challenge.SetHTTP01Provider(p)
			case "tls-alpn-01":
				err = cl.Challenge.SetTLSALPN01Provider(p)
			case "dns-01":
				err = cl.Challenge.SetDNS01Provider(p, dns01.WrapPreCheck(
					func(context.Context, string, string, string, dns01.PreCheckFunc) (bool, error) { return true, nil }))
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := cl.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{tc.name}, Bundle: true,
				KeyType: certcrypto.EC256, PreferredChain: tc.preferred})
			if err != nil {
				t.Fatalf("obtain: %v", err)
			}
			certs := pemCerts(t, res.Certificate)
			if !strings.Contains(res.CertURL, "/certZ/") || len(certs) != 2 || certs[0].DNSNames[0] != tc.name {
				t.Fatalf("got %s with %d certificates", res.CertURL, len(certs))
			}
			want := pemCert(t, mgmtBody(t, r, "/roots/0")).Subject.CommonName
			if tc.preferred != "" {
				want = tc.preferred
			}
			if got := certs[1].Issuer.CommonName; got != want {
				t.Errorf("chain ends below %q, want %q", got, want)
			}
			ri, err := cl.Certificate.GetRenewalInfo(ctx, certs[0])
			if err != nil || !ri.SuggestedWindow.Start.After(certs[0].NotBefore) {
				t.Fatalf("renewal-info: %+v, %v", ri, err)
			}
			if err := cl.Certificate.Revoke(ctx, res.Certificate); err != nil {
				t.Fatalf("revoke: %v", err)
			}
		})
	}
}

// challtestProvider is a lego challenge provider that publishes through
// pebble-challtestsrv's management API, as Pebble users' harnesses do.
type challtestProvider struct {
	r   *pebbleRig
	t   *testing.T
	typ string
}

func (p challtestProvider) Present(_ context.Context, domain, token, keyAuth string) error {
	switch p.typ {
	case "http-01":
		p.r.challtest(p.t, "/add-http01", map[string]string{"token": token, "content": keyAuth})
	case "tls-alpn-01":
		p.r.challtest(p.t, "/add-tlsalpn01", map[string]string{"host": domain, "content": keyAuth})
	case "dns-01":
		sum := sha256.Sum256([]byte(keyAuth))
		p.r.challtest(p.t, "/set-txt", map[string]string{"host": "_acme-challenge." + domain + ".",
			"value": base64.RawURLEncoding.EncodeToString(sum[:])})
	}
	return nil
}

func (p challtestProvider) CleanUp(_ context.Context, domain, token, _ string) error {
	switch p.typ {
	case "http-01":
		p.r.challtest(p.t, "/del-http01", map[string]string{"token": token})
	case "tls-alpn-01":
		p.r.challtest(p.t, "/del-tlsalpn01", map[string]string{"host": domain})
	case "dns-01":
		p.r.challtest(p.t, "/clear-txt", map[string]string{"host": "_acme-challenge." + domain + "."})
	}
	return nil
}

// Timeout makes lego's dns-01 solver wait 10 ms instead of 2 s before its
// (disabled) propagation check.
func (challtestProvider) Timeout() (timeout, interval time.Duration) {
	return 10 * time.Second, 10 * time.Millisecond
}

// mgmtBody is the body of a GET on the rig's Pebble management listener.
func mgmtBody(t *testing.T, r *pebbleRig, path string) []byte {
	t.Helper()
	_, b := r.mgmtGet(t, path)
	return b
}

// pemCerts parses every certificate in a PEM bundle.
func pemCerts(t *testing.T, b []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out, b = append(out, c), rest
	}
}
