package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

const testOCSPURL = "http://127.0.0.1:14080/ocsp"

// revocations is a lookup for OCSPResponse backed by a map keyed by
// issuer ID + "/" + serial.
type revocations map[string]OCSPStatus

// lookup implements OCSPResponse's lookup function.
func (r revocations) lookup(issuerID string, serial *big.Int) (OCSPStatus, bool) {
	st, ok := r[issuerID+"/"+SerialString(serial)]
	return st, ok
}

// ocspRequest builds a DER OCSP request for leaf with hash hf.
func ocspRequest(t testing.TB, leaf, issuer *x509.Certificate, hf crypto.Hash) []byte {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: hf})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestOCSPResponse(t *testing.T) {
	h, clk := newHierarchy(t, Config{OCSPBaseURL: testOCSPURL})
	clk.Step(90 * time.Minute) // responses follow the now argument, not New's time
	now := clk.Now()
	prof := DefaultProfiles()["classic"]
	rsaLeaf := issue(t, h, newTestKey(t, "rsa"), prof, "r.example")
	ecLeaf := issue(t, h, newTestKey(t, "p256"), prof, "e.example")
	revokedAt := now.Add(-time.Hour)
	db := revocations{}
	tests := []struct {
		name   string
		leaf   Leaf
		hash   crypto.Hash
		status *OCSPStatus // nil: unknown serial
		want   int         // ocsp.Good, Revoked or Unknown
	}{
		{name: "ECDSA good", leaf: ecLeaf, hash: crypto.SHA1, status: &OCSPStatus{}, want: ocsp.Good},
		{name: "RSA good", leaf: rsaLeaf, hash: crypto.SHA1, status: &OCSPStatus{}, want: ocsp.Good},
		{name: "ECDSA good, SHA-256 CertID", leaf: ecLeaf, hash: crypto.SHA256, status: &OCSPStatus{}, want: ocsp.Good},
		{name: "RSA good, SHA-512 CertID", leaf: rsaLeaf, hash: crypto.SHA512, status: &OCSPStatus{}, want: ocsp.Good},
		{name: "ECDSA revoked keyCompromise", leaf: ecLeaf, hash: crypto.SHA1, want: ocsp.Revoked,
			status: &OCSPStatus{Revoked: true, RevokedAt: revokedAt, Reason: ocsp.KeyCompromise}},
		{name: "RSA revoked unspecified", leaf: rsaLeaf, hash: crypto.SHA1, want: ocsp.Revoked,
			status: &OCSPStatus{Revoked: true, RevokedAt: revokedAt}},
		{name: "RSA revoked cessationOfOperation, SHA-384 CertID", leaf: rsaLeaf, hash: crypto.SHA384,
			want: ocsp.Revoked, status: &OCSPStatus{Revoked: true, RevokedAt: revokedAt, Reason: ocsp.CessationOfOperation}},
		{name: "ECDSA unknown serial", leaf: ecLeaf, hash: crypto.SHA1, want: ocsp.Unknown},
		{name: "RSA unknown serial", leaf: rsaLeaf, hash: crypto.SHA256, want: ocsp.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(db)
			if tt.status != nil {
				db[tt.leaf.Issuer.ID+"/"+tt.leaf.Serial] = *tt.status
			}
			der, err := h.OCSPResponse(ocspRequest(t, tt.leaf.Cert, tt.leaf.Issuer.Cert, tt.hash), db.lookup, now)
			if err != nil {
				t.Fatal(err)
			}
			// ParseResponseForCert checks the signature against the issuer.
			resp, err := ocsp.ParseResponseForCert(der, tt.leaf.Cert, tt.leaf.Issuer.Cert)
			if err != nil {
				t.Fatal(err)
			}
			checkOCSP(t, resp, tt.leaf, now)
			if resp.Status != tt.want || resp.IssuerHash != tt.hash {
				t.Errorf("Status = %d, IssuerHash = %v; want %d, %v", resp.Status, resp.IssuerHash, tt.want, tt.hash)
			}
			if tt.want == ocsp.Revoked && (!resp.RevokedAt.Equal(revokedAt) || resp.RevocationReason != tt.status.Reason) {
				t.Errorf("revoked at %s reason %d, want %s reason %d",
					resp.RevokedAt, resp.RevocationReason, revokedAt, tt.status.Reason)
			}
		})
	}
}

// checkOCSP checks the fields every successful response shares.
func checkOCSP(t *testing.T, resp *ocsp.Response, leaf Leaf, now time.Time) {
	t.Helper()
	if resp.SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Errorf("serial %x, want %x", resp.SerialNumber, leaf.Cert.SerialNumber)
	}
	if !resp.ThisUpdate.Equal(now) || !resp.ProducedAt.Equal(now) || !resp.NextUpdate.Equal(now.Add(OCSPValidity)) {
		t.Errorf("thisUpdate %s producedAt %s nextUpdate %s; want %s, %s, %s", resp.ThisUpdate, resp.ProducedAt,
			resp.NextUpdate, now, now, now.Add(OCSPValidity))
	}
	if resp.Certificate != nil {
		t.Error("response embeds a certificate; the issuer signs directly")
	}
	if want := leaf.Issuer.Cert.RawSubject; !bytes.Equal(resp.RawResponderName, want) || resp.ResponderKeyHash != nil {
		t.Errorf("responder name %x, key hash %x; want name %x", resp.RawResponderName, resp.ResponderKeyHash, want)
	}
	if err := resp.CheckSignatureFrom(leaf.Issuer.Cert); err != nil {
		t.Errorf("signature: %v", err)
	}
}

func TestOCSPResponseErrors(t *testing.T) {
	h, clk := newHierarchy(t, Config{})
	other, _ := newHierarchy(t, Config{}) // same names, other keys
	prof := DefaultProfiles()["classic"]
	leaf := issue(t, h, newTestKey(t, "p256"), prof, "a.example")
	foreign := issue(t, other, newTestKey(t, "p256"), prof, "a.example")
	good := ocspRequest(t, leaf.Cert, leaf.Issuer.Cert, crypto.SHA1)
	parsed, err := ocsp.ParseRequest(good)
	if err != nil {
		t.Fatal(err)
	}
	wrongName := *parsed
	wrongName.IssuerNameHash = bytes.Repeat([]byte{1}, 20)
	wrongNameDER, err := wrongName.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  []byte
		want ocsp.ResponseStatus
	}{
		{name: "empty", req: nil, want: ocsp.Malformed},
		{name: "garbage", req: []byte("not an OCSP request"), want: ocsp.Malformed},
		{name: "truncated", req: good[:len(good)-3], want: ocsp.Malformed},
		{name: "trailing data", req: append(slices.Clone(good), 0), want: ocsp.Malformed},
		{name: "a certificate instead of a request", req: leaf.DER, want: ocsp.Malformed},
		{name: "issuer of another hierarchy", req: ocspRequest(t, foreign.Cert, foreign.Issuer.Cert, crypto.SHA1),
			want: ocsp.Unauthorized},
		{name: "right key hash, wrong name hash", req: wrongNameDER, want: ocsp.Unauthorized},
		{name: "leaf's root as issuer", req: ocspRequest(t, leaf.Cert, h.ecRoot, crypto.SHA1), want: ocsp.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			der, err := h.OCSPResponse(tt.req, func(string, *big.Int) (OCSPStatus, bool) {
				called = true
				return OCSPStatus{}, true
			}, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			_, err = ocsp.ParseResponse(der, nil)
			var re ocsp.ResponseError
			if !errors.As(err, &re) || re.Status != tt.want {
				t.Fatalf("response %x parses as %v, want %v", der, err, tt.want)
			}
			if called {
				t.Error("lookup called for a rejected request")
			}
		})
	}
}

func TestOCSPResponseInternalErrors(t *testing.T) {
	h, clk := newHierarchy(t, Config{})
	leaf := issue(t, h, newTestKey(t, "rsa"), DefaultProfiles()["classic"], "a.example")
	req := ocspRequest(t, leaf.Cert, leaf.Issuer.Cert, crypto.SHA1)
	tests := []struct {
		name   string
		status OCSPStatus
	}{
		{name: "revoked without time", status: OCSPStatus{Revoked: true, Reason: 1}},
		{name: "reason 7", status: OCSPStatus{Revoked: true, RevokedAt: clk.Now(), Reason: 7}},
		{name: "reason 11", status: OCSPStatus{Revoked: true, RevokedAt: clk.Now(), Reason: 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := h.OCSPResponse(req, func(id string, serial *big.Int) (OCSPStatus, bool) {
				if id != leaf.Issuer.ID || serial.Cmp(leaf.Cert.SerialNumber) != 0 {
					t.Errorf("lookup(%q, %x), want (%q, %x)", id, serial, leaf.Issuer.ID, leaf.Cert.SerialNumber)
				}
				return tt.status, true
			}, clk.Now())
			if err == nil || der != nil {
				t.Fatalf("OCSPResponse() = %x, %v; want nil and an error", der, err)
			}
		})
	}
}

func TestLeafOCSPURL(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "not configured: no OCSP URL, as Let's Encrypt", cfg: Config{}},
		{name: "configured", cfg: Config{OCSPBaseURL: testOCSPURL}, want: []string{testOCSPURL}},
		{name: "configured with AIA", cfg: Config{OCSPBaseURL: "http://o.example/", AIABaseURL: "http://i.example/"},
			want: []string{"http://o.example/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHierarchy(t, tt.cfg)
			for _, kind := range []string{"rsa", "p256"} {
				c := issue(t, h, newTestKey(t, kind), DefaultProfiles()["tlsserver"], "a.example").Cert
				if !slices.Equal(c.OCSPServer, tt.want) {
					t.Errorf("%s: OCSPServer = %v, want %v", kind, c.OCSPServer, tt.want)
				}
				if present, _ := ext(c, oidAIA); present != (tt.cfg.OCSPBaseURL != "" || tt.cfg.AIABaseURL != "") {
					t.Errorf("%s: AIA present = %v", kind, present)
				}
			}
		})
	}
}

// TestOpenSSLOCSP lets openssl build the request (-reqout), answers it, and
// has openssl check the response (-respin) against the issuer and bundle.
func TestOpenSSLOCSP(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found")
	}
	h, clk := newHierarchy(t, Config{OCSPBaseURL: testOCSPURL})
	prof := DefaultProfiles()["classic"]
	tests := []struct {
		name   string
		key    string
		status *OCSPStatus
		want   []string
	}{
		{name: "ECDSA good", key: "p256", status: &OCSPStatus{}, want: []string{"leaf.pem: good"}},
		{name: "RSA good", key: "rsa", status: &OCSPStatus{}, want: []string{"leaf.pem: good"}},
		{name: "ECDSA revoked", key: "p256", want: []string{"leaf.pem: revoked", "Reason: keyCompromise"},
			status: &OCSPStatus{Revoked: true, RevokedAt: clk.Now().Add(-time.Hour), Reason: 1}},
		{name: "RSA revoked", key: "rsa", want: []string{"leaf.pem: revoked", "Reason: superseded"},
			status: &OCSPStatus{Revoked: true, RevokedAt: clk.Now().Add(-time.Hour), Reason: 4}},
		{name: "RSA unknown", key: "rsa", want: []string{"leaf.pem: unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := issue(t, h, newTestKey(t, tt.key), prof, "a.example")
			dir := t.TempDir()
			files := map[string][]byte{"leaf.pem": encodeCerts(leaf.Cert), "int.pem": encodeCerts(leaf.Issuer.Cert),
				"bundle.pem": h.BundlePEM()}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			run := func(args ...string) string {
				cmd := exec.Command(openssl, append([]string{"ocsp", "-issuer", "int.pem", "-cert", "leaf.pem", "-no_nonce"}, args...)...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("openssl ocsp %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			run("-reqout", "req.der")
			req, err := os.ReadFile(filepath.Join(dir, "req.der"))
			if err != nil {
				t.Fatal(err)
			}
			db := revocations{}
			if tt.status != nil {
				db[leaf.Issuer.ID+"/"+leaf.Serial] = *tt.status
			}
			resp, err := h.OCSPResponse(req, db.lookup, clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "resp.der"), resp, 0o600); err != nil {
				t.Fatal(err)
			}
			// The fake clock is not the wall clock: verify the chain at the
			// fake time and accept any thisUpdate/nextUpdate skew.
			out := run("-respin", "resp.der", "-CAfile", "bundle.pem",
				"-attime", strconv.FormatInt(clk.Now().Unix(), 10), "-validity_period", "3153600000")
			t.Logf("openssl ocsp -respin:\n%s", out)
			for _, want := range append([]string{"Response verify OK"}, tt.want...) {
				if !strings.Contains(out, want) {
					t.Errorf("openssl output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
