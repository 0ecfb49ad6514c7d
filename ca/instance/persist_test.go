package instance_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/ratelimit"
)

// TestDataDirSurvivesRestart: with a data directory, a restarted CA has
// the same trust bundle, the account, the certificate and its revocation.
func TestDataDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *instance.Instance {
		cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0",
			DataDir: dir, CA: ca.DefaultConfig(), Validation: challengeval.Config{AlwaysValid: true},
			RateLimits: ratelimit.Config{DisableRequestLimits: true}}
		inst, err := instance.Start(context.Background(), cfg, instance.Deps{Clock: clock.RealClock{}})
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := start()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cl := &acme.Client{Key: key, DirectoryURL: first.DirectoryURL(), HTTPClient: httpClient(t, first.BundlePEM())}
	acct, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatal(err)
	}
	der := issueAlwaysValid(ctx, t, cl, "persist.test")
	if err := cl.RevokeCert(ctx, nil, der, acme.CRLReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	bundle := first.BundlePEM()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	second := start()
	defer func() { _ = second.Shutdown(context.Background()) }()
	if !bytes.Equal(second.BundlePEM()[:200], bundle[:200]) {
		t.Error("the trust bundle changed across a restart")
	}
	cl2 := &acme.Client{Key: key, DirectoryURL: second.DirectoryURL(), HTTPClient: httpClient(t, second.BundlePEM())}
	got, err := cl2.GetReg(ctx, "")
	if err != nil || path(got.URI) != path(acct.URI) {
		t.Fatalf("account after restart: %v, %v (want %s)", got, err, acct.URI)
	}
	leaf, _ := x509.ParseCertificate(der)
	res, err := httpClient(t, second.BundlePEM()).Get(fmt.Sprintf("https://%s/cert-status-by-serial/%036x", second.MgmtAddr(), leaf.SerialNumber))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `"Status": "Revoked"`) {
		t.Errorf("certificate status after restart: %d %s, want revoked", res.StatusCode, body)
	}
}

// issueAlwaysValid orders, accepts and finalizes a certificate for name
// against an always-valid CA, returning the leaf DER.
func issueAlwaysValid(ctx context.Context, t *testing.T, cl *acme.Client, name string) []byte {
	t.Helper()
	o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range o.AuthzURLs {
		z, err := cl.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Accept(ctx, z.Challenges[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.WaitAuthorization(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, leafKey)
	ders, _, err := cl.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		t.Fatal(err)
	}
	return ders[0]
}

// path drops the scheme and host, which change with the restarted port.
func path(u string) string { return u[strings.Index(u[len("https://"):], "/")+len("https://"):] }
