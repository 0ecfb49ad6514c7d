package instance_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/internal/legotest"
)

// e2eLego runs the scenario table with lego v5 as a library: Obtain with
// custom http-01 and dns-01 providers, revoke by account, ARI look-ups.
// Each case keeps only its first name: lego validates authorizations one
// after the other, and without a Retry-After on the challenge (Boulder sends
// none) it waits about 5 s before re-polling each one.
func e2eLego(t *testing.T, env *e2eEnv) {
	// lego resolves _acme-challenge CNAMEs through a package-level client;
	// point it at the test DNS server for the duration of this subtest.
	prev := dns01.DefaultClient()
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: []string{env.dns.addr},
		Timeout: 5 * time.Second}))
	t.Cleanup(func() { dns01.SetDefaultClient(prev) })

	var subs []e2eSubtest
	for _, c := range e2eCases("lego", false) {
		c.names = c.names[:1]
		subs = append(subs, e2eSubtest{c.name, func(t *testing.T) { e2eLegoCase(t, env, c) }})
	}
	e2eRunConcurrently(t, subs)
}

func e2eLegoCase(t *testing.T, env *e2eEnv, c e2eCase) {
	ctx := e2eContext(t)
	inst := env.caFor(c)
	cl := legotest.NewClient(ctx, t, legotest.Options{DirURL: inst.DirectoryURL(),
		HTTPClient: httpClient(t, inst.BundlePEM()), UserAgent: "fakeca-e2e", Timeout: 6 * time.Second})
	var p e2eLegoProvider
	if !c.always {
		p = e2eLegoProvider{env: env, typ: c.challenge}
	}
	var err error
	switch c.challenge {
	case e2eHTTP01:
		err = cl.Challenge.SetHTTP01Provider(p)
	case e2eDNS01:
		err = cl.Challenge.SetDNS01Provider(p, dns01.WrapPreCheck(
			func(context.Context, string, string, string, dns01.PreCheckFunc) (bool, error) { return true, nil }))
	}
	if err != nil {
		t.Fatal(err)
	}
	req := certificate.ObtainRequest{Domains: c.names, Bundle: true, Profile: c.profile, KeyType: certcrypto.RSA2048}
	if !c.rsa {
		// Ask for the alternate chain, which ends at the self-signed ECDSA
		// root rather than its cross-sign by the RSA root.
		req.KeyType, req.PreferredChain = certcrypto.EC256, e2eRootCN(t, inst, x509.ECDSA)
	}
	res, err := cl.Certificate.Obtain(ctx, req)
	if err != nil {
		t.Fatalf("obtain %v: %v", c.names, err)
	}
	der := e2eDERs(t, res.Certificate)
	leaf := e2eCheckIssued(t, inst, c, der)
	top, err := x509.ParseCertificate(der[len(der)-1])
	if err != nil {
		t.Fatal(err)
	}
	if want := e2eRootCN(t, inst, leaf.PublicKeyAlgorithm); top.Issuer.CommonName != want {
		t.Errorf("chain ends below %q, want %q", top.Issuer.CommonName, want)
	}

	ri, err := cl.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("renewal-info: %v", err)
	}
	e2eCheckARIWindow(t, leaf, ri.SuggestedWindow.Start, ri.SuggestedWindow.End)

	e2eCheckRevokedTwice(t, false, cl.Certificate.Revoke(ctx, res.Certificate), cl.Certificate.Revoke(ctx, res.Certificate))
	// A revoked certificate should be renewed at once (reference §6).
	if ri, err = cl.Certificate.GetRenewalInfo(ctx, leaf); err != nil || !ri.SuggestedWindow.End.Before(time.Now()) {
		t.Errorf("renewal-info after revocation: %+v, %v; want a window in the past", ri, err)
	}
}

// e2eRootCN is the CN of the CA's self-signed root with a key of alg.
func e2eRootCN(t *testing.T, inst *instance.Instance, alg x509.PublicKeyAlgorithm) string {
	t.Helper()
	for _, d := range e2eDERs(t, inst.BundlePEM()) {
		if c, err := x509.ParseCertificate(d); err == nil && c.PublicKeyAlgorithm == alg {
			return c.Subject.CommonName
		}
	}
	t.Fatalf("no %s root in the bundle", alg)
	return ""
}

// e2eLegoProvider publishes lego's challenges in the test's http-01 responder
// or DNS server; the zero value presents nothing (for the always-valid CA).
type e2eLegoProvider struct {
	env *e2eEnv
	typ string
}

func (p e2eLegoProvider) Present(_ context.Context, domain, token, keyAuth string) error {
	switch p.typ {
	case e2eHTTP01:
		p.env.web.set(token, keyAuth)
	case e2eDNS01:
		p.env.dns.add("_acme-challenge."+domain, e2eDNSValue(keyAuth))
	}
	return nil
}

func (p e2eLegoProvider) CleanUp(_ context.Context, domain, token, keyAuth string) error {
	switch p.typ {
	case e2eHTTP01:
		p.env.web.del(token)
	case e2eDNS01:
		p.env.dns.remove("_acme-challenge."+domain, e2eDNSValue(keyAuth))
	}
	return nil
}

// Timeout makes lego's dns-01 solver wait 10 ms instead of 2 s before its
// (disabled) propagation check.
func (e2eLegoProvider) Timeout() (timeout, interval time.Duration) {
	return 10 * time.Second, 10 * time.Millisecond
}

// e2eDNSValue is the dns-01 TXT value for a key authorization (RFC 8555 §8.4).
func e2eDNSValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
