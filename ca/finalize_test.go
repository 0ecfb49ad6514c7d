package ca

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// csrWith makes a CSR from a template, for CSRs makeCSR cannot express.
func csrWith(t testing.TB, key any, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestFinalizeRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	pending, _ := acct.newOrder("pending.test")
	o, orderURL := acct.newOrder("fin.test")
	acct.authorize(o)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, derErr := x509.ParseCertificateRequest([]byte{1, 2, 3})
	mustStaple := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}, Value: []byte{0x30, 0x03, 0x02, 0x01, 0x05}}
	const notSame = "Error finalizing order :: CSR does not specify same identifiers as Order"
	tests := []struct {
		name    string
		order   orderJSON
		payload any
		typ     string
		status  int
		detail  string
	}{
		{"order not ready", pending, csrPayload(makeCSR(t, newKey(t), "pending.test")), "orderNotReady", 403,
			`Order's status ("pending") is not acceptable for finalization`},
		{"payload not JSON", o, "{", "malformed", 400, "Unable to unmarshal finalize request body"},
		{"CSR not base64url", o, map[string]string{"csr": "!!!"}, "malformed", 400,
			"Error parsing certificate request: illegal base64 data at input byte 0"},
		{"CSR not DER", o, map[string]string{"csr": b64Encode([]byte{1, 2, 3})}, "malformed", 400,
			"Error parsing certificate request: " + derErr.Error()},
		{"extra name", o, csrPayload(makeCSR(t, newKey(t), "fin.test", "extra.test")), "unauthorized", 403, notSame},
		{"other name", o, csrPayload(makeCSR(t, newKey(t), "other.test")), "unauthorized", 403, notSame},
		{"common name not in the order", o, csrPayload(csrWith(t, newKey(t), &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "cn.test"}, DNSNames: []string{"fin.test"}})), "unauthorized", 403, notSame},
		{"account key", o, csrPayload(makeCSR(t, acct.key, "fin.test")), "malformed", 400,
			"Error finalizing order :: certificate public key must be different than account key"},
		{"weak key", o, csrPayload(makeCSR(t, weak, "fin.test")), "badCSR", 400,
			"Error finalizing order :: invalid public key in CSR: key size not supported: 1024"},
		{"must-staple", o, csrPayload(csrWith(t, newKey(t), &x509.CertificateRequest{DNSNames: []string{"fin.test"},
			ExtraExtensions: []pkix.Extension{mustStaple}})), "unauthorized", 403,
			"Error finalizing order :: OCSP must-staple extension is no longer available: see https://letsencrypt.org/2024/12/05/ending-ocsp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, acct.post(tc.order.Finalize, tc.payload), tc.typ, tc.status, tc.detail)
		})
	}
	if got := e.getOrder(orderURL).Status; got != acme.StatusReady {
		t.Errorf("after refused CSRs the order is %s, want still ready", got)
	}
}

func TestFinalize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	o, orderURL := acct.newOrder("b.fin.test", "a.fin.test")
	acct.authorize(o)
	e.clk.Step(time.Hour)
	// A CSR may name the identifiers in any order and case, and repeat them.
	r := acct.finalize(o, csrWith(t, newKey(t), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "B.fin.test"},
		DNSNames: []string{"a.fin.test", "b.fin.test", "A.FIN.test"}}))
	wantStatus(t, r, http.StatusOK)
	var got orderJSON
	r.decode(t, &got)
	if got.Status != acme.StatusProcessing || got.Certificate != "" {
		t.Errorf("finalize answered %s (certificate %q), want processing", got.Status, got.Certificate)
	}
	if ra, loc := r.header.Get("Retry-After"), r.header.Get("Location"); ra != "3" || loc != orderURL {
		t.Errorf("Retry-After %q, Location %q; want 3 and the order", ra, loc)
	}
	done := e.waitOrder(orderURL)
	if done.Status != acme.StatusValid || !strings.HasPrefix(done.Certificate, e.url(pathCert)) {
		t.Fatalf("order %s, certificate %q", done.Status, done.Certificate)
	}
	if ra := e.get(orderURL).header.Get("Retry-After"); ra != "" {
		t.Errorf("valid order carries Retry-After %q", ra)
	}
	cert := e.fetchChain(done.Certificate)[0]
	now := testStart.Add(time.Hour)
	if cert.Subject.CommonName != "b.fin.test" || strings.Join(cert.DNSNames, ",") != "a.fin.test,b.fin.test" ||
		!cert.NotBefore.Equal(now.Add(-time.Hour)) || !cert.NotAfter.Equal(now.Add(-time.Hour+90*24*time.Hour-time.Second)) {
		t.Errorf("certificate CN %q names %v valid %s – %s", cert.Subject.CommonName, cert.DNSNames, cert.NotBefore, cert.NotAfter)
	}
	if want := e.url(pathCert) + certSerial(cert); done.Certificate != want {
		t.Errorf("certificate URL %q, want %q", done.Certificate, want)
	}
	wantProblem(t, acct.finalize(o, makeCSR(t, newKey(t), "a.fin.test", "b.fin.test")), "orderNotReady", 403,
		`Order's status ("valid") is not acceptable for finalization`)
}

// TestProcessingOrder holds issuance so the order stays processing.
func TestProcessingOrder(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	e := newEnv(t, envConfig{wrapStore: func(s store.Store) store.Store {
		return &hookStore{Store: s, addCertificate: func() { <-release }}
	}})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // runs before the server's cleanup
	acct := e.newAccount()
	o, orderURL := acct.newOrder("slow.test")
	acct.authorize(o)
	wantStatus(t, acct.finalize(o, makeCSR(t, newKey(t), "slow.test")), http.StatusOK)
	for name, r := range map[string]*response{"GET": e.get(orderURL), "POST-as-GET": acct.post(orderURL, nil)} {
		var got orderJSON
		r.decode(t, &got)
		if got.Status != acme.StatusProcessing || r.header.Get("Retry-After") != "3" {
			t.Errorf("%s: order %s with Retry-After %q, want processing with 3", name, got.Status, r.header.Get("Retry-After"))
		}
	}
	if ra := e.get(o.Authorizations[0]).header.Get("Retry-After"); ra != "" {
		t.Errorf("authorization carries Retry-After %q", ra)
	}
	wantProblem(t, acct.finalize(o, makeCSR(t, newKey(t), "slow.test")), "orderNotReady", 403,
		`Order's status ("processing") is not acceptable for finalization`)
	if _, u := acct.newOrder("slow.test"); u == orderURL {
		t.Error("a processing order was reused")
	}
	releaseOnce()
	if got := e.waitOrder(orderURL); got.Status != acme.StatusValid {
		t.Errorf("order %s after issuance", got.Status)
	}
}

// TestIssuanceFailure: an issuance error makes the order invalid with
// Boulder's finalize error and no certificate.
func TestIssuanceFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{cfg: func(c *Config) { c.AllowOrderValidity = true }})
	acct := e.newAccount()
	// A window beyond the intermediate's own validity cannot be signed.
	o, u := acct.newOrderWith(map[string]any{"identifiers": dnsIDs("toolong.test"),
		"notAfter": testStart.AddDate(10, 0, 0).Format(time.RFC3339)})
	acct.authorize(o)
	wantStatus(t, acct.finalize(o, makeCSR(t, newKey(t), "toolong.test")), http.StatusOK)
	got := e.waitOrder(u)
	want := problemJSON{Type: acme.ServerInternal.URN(), Detail: "Error finalizing order :: failed to issue certificate", Status: 500}
	if got.Status != acme.StatusInvalid || got.Certificate != "" || got.Error == nil || got.Error.Type != want.Type ||
		got.Error.Detail != want.Detail || got.Error.Status != want.Status {
		t.Errorf("order %s certificate %q error %+v, want invalid with %+v", got.Status, got.Certificate, got.Error, want)
	}
}

func TestCertificateDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(e.srv.BundlePEM()) {
		t.Fatal("bad bundle")
	}
	tests := []struct {
		name   string
		got    issued
		chains []int // chain lengths (leaf excluded), default first
	}{
		{"ECDSA", acct.issue("ec.test"), []int{2, 1}},
		{"RSA", acct.issueWithKey(rsaKey(t), "rsa.test"), []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.got.order.Certificate
			for n := -1; n < len(tc.chains); n++ {
				u, want := base, tc.chains[max(n, 0)]
				if n >= 0 {
					u = fmt.Sprintf("%s/%d", base, n)
				}
				r := e.get(u)
				wantStatus(t, r, http.StatusOK)
				if ct := r.header.Get("Content-Type"); ct != "application/pem-certificate-chain" {
					t.Errorf("%s: Content-Type %q", u, ct)
				}
				chain := parsePEMChain(t, r.body)
				if len(chain) != 1+want || !chain[0].Equal(tc.got.cert) {
					t.Fatalf("%s: %d certificates, want the leaf and %d", u, len(chain), want)
				}
				inter := x509.NewCertPool()
				for _, c := range chain[1:] {
					inter.AddCert(c)
				}
				if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: tc.got.cert.DNSNames[0],
					CurrentTime: testStart}); err != nil {
					t.Errorf("%s: chain does not verify: %v", u, err)
				}
				var alternates []string
				for i := range tc.chains {
					if i != max(n, 0) {
						alternates = append(alternates, link(fmt.Sprintf("%s/%d", base, i), "alternate"))
					}
				}
				if got := r.header.Values("Link"); strings.Join(got[1:], " ") != strings.Join(alternates, " ") {
					t.Errorf("%s: Link %q, want the index and %q", u, got, alternates)
				}
			}
			wantProblem(t, e.get(fmt.Sprintf("%s/%d", base, len(tc.chains))), "malformed", 404, "Unknown issuance chain")
			r := acct.post(base, nil)
			if wantStatus(t, r, http.StatusOK); !parsePEMChain(t, r.body)[0].Equal(tc.got.cert) {
				t.Error("POST-as-GET returned another certificate")
			}
			wantProblem(t, acct.post(base, struct{}{}), "malformed", 400, "POST-as-GET requests must have an empty payload")
		})
	}
	wantProblem(t, e.get(e.url(pathCert)+strings.Repeat("0", 36)), "malformed", 404, "Certificate not found")
	wantProblem(t, e.get(e.url(pathCert)+"1234"), "malformed", 404, "Invalid serial")
}

// TestFinalizeProfiles: the order's profile shapes the certificate.
func TestFinalizeProfiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	tests := []struct {
		profile  string
		ident    acme.Identifier
		validity time.Duration
		cn       string
		skid     bool
	}{
		{"", acme.Identifier{Type: acme.TypeDNS, Value: "classic.prof.test"}, 90 * 24 * time.Hour, "classic.prof.test", true},
		{"tlsserver", acme.Identifier{Type: acme.TypeDNS, Value: "tls.prof.test"}, 45 * 24 * time.Hour, "", false},
		{"shortlived", acme.Identifier{Type: acme.TypeIP, Value: "127.0.0.1"}, 160 * time.Hour, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.profile+" "+tc.ident.Value, func(t *testing.T) {
			o, u := acct.newOrderWith(map[string]any{"identifiers": []acme.Identifier{tc.ident}, "profile": tc.profile})
			acct.authorize(o)
			tmpl := &x509.CertificateRequest{DNSNames: []string{tc.ident.Value}}
			if tc.ident.Type == acme.TypeIP {
				tmpl = &x509.CertificateRequest{IPAddresses: []net.IP{net.ParseIP(tc.ident.Value)}}
			}
			wantStatus(t, acct.finalize(o, csrWith(t, newKey(t), tmpl)), http.StatusOK)
			cert := e.fetchChain(e.waitOrder(u).Certificate)[0]
			if got := cert.NotAfter.Sub(cert.NotBefore) + time.Second; got != tc.validity {
				t.Errorf("validity %s, want %s", got, tc.validity)
			}
			if cert.Subject.CommonName != tc.cn || (len(cert.SubjectKeyId) > 0) != tc.skid {
				t.Errorf("CN %q SKID %x, want CN %q SKID %v", cert.Subject.CommonName, cert.SubjectKeyId, tc.cn, tc.skid)
			}
			names := append(append([]string(nil), cert.DNSNames...), ipStrings(cert.IPAddresses)...)
			if len(names) != 1 || names[0] != tc.ident.Value {
				t.Errorf("certificate names %v, want [%s]", names, tc.ident.Value)
			}
		})
	}
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// TestFinalizeCAARecheck: authorizations validated more than 7 hours ago
// get CAA checked again at finalize, with Boulder's texts for one and for
// several failures; younger ones are not rechecked.
func TestFinalizeCAARecheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		age    time.Duration
		forbid map[string]bool
		detail string
	}{
		{"young authorizations are not rechecked", 7 * time.Hour, map[string]bool{"a.caa.test": true}, ""},
		{"one failure", 8 * time.Hour, map[string]bool{"a.caa.test": true},
			"Error finalizing order :: rechecking caa: While processing CAA for a.caa.test: CAA record for a.caa.test prevents issuance"},
		{"several failures", 8 * time.Hour, map[string]bool{"a.caa.test": true, "b.caa.test": true},
			`Error finalizing order :: Rechecking CAA for "a.caa.test" and 1 more identifiers failed. Refer to sub-problems for more information`},
		{"no CAA forbids", 8 * time.Hour, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envConfig{validator: caaValidator{forbid: tc.forbid}})
			acct := e.newAccount()
			o, _ := acct.newOrder("a.caa.test", "b.caa.test")
			acct.authorize(o)
			e.clk.Step(tc.age)
			r := acct.finalize(o, makeCSR(t, newKey(t), "a.caa.test", "b.caa.test"))
			if tc.detail == "" {
				wantStatus(t, r, http.StatusOK)
				return
			}
			wantProblem(t, r, "caa", 403, tc.detail)
		})
	}
}

// TestFinalizeEd25519: Let's Encrypt refuses Ed25519 CSR keys; with
// policy.allowEd25519CSR (--allow-ed25519) fakeca issues them from the
// ECDSA intermediate, as cert-manager's e2e expects of Pebble.
func TestFinalizeEd25519(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	refuse := newEnv(t, envConfig{})
	acct := refuse.newAccount()
	o, _ := acct.newOrder("ed.test")
	acct.authorize(o)
	r := acct.finalize(o, makeCSR(t, key, "ed.test"))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "badCSR") {
		t.Fatalf("Ed25519 CSR by default: %d %s, want badCSR", r.status, r.body)
	}

	allow := newEnv(t, envConfig{cfg: func(c *Config) { c.Policy.AllowEd25519CSR = true }})
	acct = allow.newAccount()
	got := acct.issueWithKey(key, "ed.test")
	chain := allow.fetchChain(allow.url(pathCert) + got.serial)
	if _, ok := chain[0].PublicKey.(ed25519.PublicKey); !ok || chain[0].PublicKeyAlgorithm != x509.Ed25519 {
		t.Fatalf("leaf key %T, want Ed25519", chain[0].PublicKey)
	}
	if err := chain[0].CheckSignatureFrom(chain[1]); err != nil || chain[1].PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("Ed25519 leaf not signed by the ECDSA intermediate: %v", err)
	}
	if chain[0].KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v, want digitalSignature only", chain[0].KeyUsage)
	}
}
