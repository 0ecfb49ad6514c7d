package instance_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/ratelimit"
)

func startCA(t testing.TB, val challengeval.Config) *instance.Instance {
	t.Helper()
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
		CA: ca.DefaultConfig(), Validation: val,
		// Staging's limits apply, but not the load balancer's 20 requests/s:
		// the end-to-end clients poll faster than that.
		RateLimits: ratelimit.Config{DisableRequestLimits: true}}
	inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Shutdown(context.Background()) })
	return inst
}

func httpClient(t testing.TB, bundle []byte) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("bad bundle")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestSmokeXCryptoAlwaysValid(t *testing.T) {
	inst := startCA(t, challengeval.Config{AlwaysValid: true, Resolvers: []string{"127.0.0.1:1"}})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cl := &acme.Client{Key: key, DirectoryURL: inst.DirectoryURL(), HTTPClient: httpClient(t, inst.BundlePEM())}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs("a.test", "*.b.test"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range o.AuthzURLs {
		z, err := cl.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range z.Challenges {
			if c.Type == "dns-01" {
				if _, err := cl.Accept(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := cl.WaitAuthorization(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.WaitOrder(ctx, o.URI); err != nil {
		t.Fatal(err)
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"a.test", "*.b.test"}}, leafKey)
	der, _, err := cl.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("issued %x by %s, chain %d", leaf.SerialNumber, leaf.Issuer, len(der))
	if err := cl.RevokeCert(ctx, nil, der[0], acme.CRLReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	_ = crypto.SHA256
}
