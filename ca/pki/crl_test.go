package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	oidIDP      = "2.5.29.28"
	oidReason   = "2.5.29.21"
	testCRLBase = "http://127.0.0.1:14080/crl/"
)

// testIDP is the issuingDistributionPoint as Boulder's crl/idp declares it,
// decoded with encoding/asn1 independently of encodeIDP.
type testIDP struct {
	DistributionPoint struct {
		FullName []asn1.RawValue `asn1:"optional,tag:0"`
	} `asn1:"optional,tag:0"`
	OnlyContainsUserCerts bool `asn1:"optional,tag:1"`
}

// decodeIDP finds the IDP extension of crl and returns its URIs, whether it
// is critical and onlyContainsUserCerts.
func decodeIDP(t *testing.T, crl *x509.RevocationList) (uris []string, critical, userOnly bool) {
	t.Helper()
	for _, e := range crl.Extensions {
		if e.Id.String() != oidIDP {
			continue
		}
		var idp testIDP
		rest, err := asn1.Unmarshal(e.Value, &idp)
		if err != nil || len(rest) != 0 {
			t.Fatalf("IDP %x: %v (%d trailing bytes)", e.Value, err, len(rest))
		}
		for _, n := range idp.DistributionPoint.FullName {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 6 {
				t.Fatalf("IDP general name has class %d tag %d, want URI [6]", n.Class, n.Tag)
			}
			uris = append(uris, string(n.Bytes))
		}
		return uris, e.Critical, idp.OnlyContainsUserCerts
	}
	t.Fatal("CRL has no issuingDistributionPoint")
	return nil, false, false
}

// testEntries returns n revoked entries with reasons cycling through 0, 1,
// 4 and 5 (the subscriber reasons), revoked before at.
func testEntries(n int, at time.Time) []RevokedEntry {
	reasons := []int{0, 1, 4, 5}
	out := make([]RevokedEntry, n)
	for i := range out {
		serial := new(big.Int).Lsh(big.NewInt(serialPrefix), 17*8)
		serial.Add(serial, big.NewInt(int64(i)*7919+1))
		out[i] = RevokedEntry{Serial: serial, RevokedAt: at.Add(-time.Duration(i+1) * time.Minute),
			Reason: reasons[i%len(reasons)]}
	}
	return out
}

func TestCRL(t *testing.T) {
	h, clk := newHierarchy(t, Config{CRLBaseURL: testCRLBase, CRLShards: 16})
	thisUpdate := clk.Now().Add(1234567 * time.Nanosecond) // sub-second: Number keeps it
	tests := []struct {
		name     string
		issuer   *Issuer
		shard    int
		entries  []RevokedEntry
		validity time.Duration
	}{
		{name: "RSA issuer, empty shard", issuer: h.rsaIssuer, shard: 1, validity: 216 * time.Hour},
		{name: "ECDSA issuer, empty last shard", issuer: h.ecIssuer, shard: 16, validity: time.Hour},
		{name: "RSA issuer, all subscriber reasons", issuer: h.rsaIssuer, shard: 7,
			entries: testEntries(8, thisUpdate), validity: 216 * time.Hour},
		{name: "ECDSA issuer, every CRL reason", issuer: h.ecIssuer, shard: 3, validity: MaxCRLValidity - time.Second,
			entries: []RevokedEntry{
				{Serial: big.NewInt(1), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 0},
				{Serial: big.NewInt(2), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 1},
				{Serial: big.NewInt(3), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 2},
				{Serial: big.NewInt(4), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 3},
				{Serial: big.NewInt(5), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 4},
				{Serial: big.NewInt(6), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 5},
				{Serial: big.NewInt(7), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 6},
				{Serial: big.NewInt(9), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 9},
				{Serial: big.NewInt(10), RevokedAt: thisUpdate.Add(-time.Hour), Reason: 10},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := h.CRL(tt.issuer.ID, tt.shard, tt.entries, thisUpdate, tt.validity)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(tt.issuer.Cert); err != nil {
				t.Errorf("CheckSignatureFrom(issuer): %v", err)
			}
			if other := h.Issuers()[0]; other != tt.issuer && crl.CheckSignatureFrom(other.Cert) == nil {
				t.Error("CRL verifies with the other issuer")
			}
			checkCRLHeader(t, crl, tt.issuer, thisUpdate, tt.validity)
			wantURL := h.CRLURL(tt.issuer.ID, tt.shard)
			uris, critical, userOnly := decodeIDP(t, crl)
			if len(uris) != 1 || uris[0] != wantURL || !critical || !userOnly {
				t.Errorf("IDP = %v critical=%v onlyContainsUserCerts=%v; want [%s] true true",
					uris, critical, userOnly, wantURL)
			}
			checkCRLEntries(t, crl, tt.entries)
		})
	}
}

// checkCRLHeader checks version, issuer, AKI, number and dates.
func checkCRLHeader(t *testing.T, crl *x509.RevocationList, iss *Issuer, thisUpdate time.Time, validity time.Duration) {
	t.Helper()
	if crl.Number.Cmp(big.NewInt(thisUpdate.UnixNano())) != 0 {
		t.Errorf("Number = %d, want %d", crl.Number, thisUpdate.UnixNano())
	}
	if want := thisUpdate.Truncate(time.Second); !crl.ThisUpdate.Equal(want) {
		t.Errorf("ThisUpdate = %s, want %s", crl.ThisUpdate, want)
	}
	if want := thisUpdate.Add(validity - time.Second).Truncate(time.Second); !crl.NextUpdate.Equal(want) {
		t.Errorf("NextUpdate = %s, want %s", crl.NextUpdate, want)
	}
	if string(crl.RawIssuer) != string(iss.Cert.RawSubject) {
		t.Errorf("Issuer = %s, want %s", crl.Issuer, iss.Cert.Subject)
	}
	if string(crl.AuthorityKeyId) != string(iss.Cert.SubjectKeyId) {
		t.Errorf("AKI = %x, want %x", crl.AuthorityKeyId, iss.Cert.SubjectKeyId)
	}
	// A v2 CRL: version INTEGER 1 right after the tbsCertList header.
	var outer struct{ TBS asn1.RawValue }
	var tbs struct{ Version int }
	if _, err := asn1.Unmarshal(crl.Raw, &outer); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil || tbs.Version != 1 {
		t.Errorf("version = %d (%v), want 1 (v2)", tbs.Version, err)
	}
}

// checkCRLEntries checks that entries round-trip, reason 0 without the
// reasonCode extension.
func checkCRLEntries(t *testing.T, crl *x509.RevocationList, entries []RevokedEntry) {
	t.Helper()
	if len(crl.RevokedCertificateEntries) != len(entries) {
		t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(entries))
	}
	for i, got := range crl.RevokedCertificateEntries {
		want := entries[i]
		if got.SerialNumber.Cmp(want.Serial) != 0 || !got.RevocationTime.Equal(want.RevokedAt.Truncate(time.Second)) ||
			got.ReasonCode != want.Reason {
			t.Errorf("entry %d = {%x %s %d}, want {%x %s %d}", i, got.SerialNumber, got.RevocationTime,
				got.ReasonCode, want.Serial, want.RevokedAt, want.Reason)
		}
		hasReason := false
		for _, e := range got.Extensions {
			hasReason = hasReason || e.Id.String() == oidReason
		}
		if hasReason != (want.Reason != 0) {
			t.Errorf("entry %d (reason %d): reasonCode extension present = %v", i, want.Reason, hasReason)
		}
	}
}

func TestCRLURLMatchesLeafCRLDP(t *testing.T) {
	h, _ := newHierarchy(t, Config{CRLBaseURL: testCRLBase, CRLShards: 5})
	prof := DefaultProfiles()["shortlived"]
	for _, kind := range []string{"rsa", "p256"} {
		t.Run(kind, func(t *testing.T) {
			leaf := issue(t, h, newTestKey(t, kind), prof, "a.example")
			shard := h.CRLShard(leaf.Cert.SerialNumber)
			want := h.CRLURL(leaf.Issuer.ID, shard)
			if len(leaf.Cert.CRLDistributionPoints) != 1 || leaf.Cert.CRLDistributionPoints[0] != want {
				t.Fatalf("CRLDP = %v, want [%s]", leaf.Cert.CRLDistributionPoints, want)
			}
			der, err := h.CRL(leaf.Issuer.ID, shard, []RevokedEntry{
				{Serial: leaf.Cert.SerialNumber, RevokedAt: leaf.Cert.NotBefore, Reason: 1}}, leaf.Cert.NotBefore, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if uris, _, _ := decodeIDP(t, crl); len(uris) != 1 || uris[0] != leaf.Cert.CRLDistributionPoints[0] {
				t.Fatalf("IDP %v does not name the leaf's CRLDP %v", uris, leaf.Cert.CRLDistributionPoints)
			}
		})
	}
}

func TestCRLURL(t *testing.T) {
	h, _ := newHierarchy(t, Config{CRLBaseURL: "http://c.example/", CRLShards: 4})
	bare, _ := newHierarchy(t, Config{})
	tests := []struct {
		name  string
		h     *Hierarchy
		id    string
		shard int
		want  string
	}{
		{name: "first shard", h: h, id: "e1", shard: 1, want: "http://c.example/e1/1.crl"},
		{name: "last shard", h: h, id: "r1", shard: 4, want: "http://c.example/r1/4.crl"},
		{name: "shard 0", h: h, id: "e1", shard: 0},
		{name: "shard past the end", h: h, id: "e1", shard: 5},
		{name: "unknown issuer", h: h, id: "x9", shard: 1},
		{name: "no CRL base URL", h: bare, id: "e1", shard: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.CRLURL(tt.id, tt.shard); got != tt.want {
				t.Fatalf("CRLURL(%q, %d) = %q, want %q", tt.id, tt.shard, got, tt.want)
			}
		})
	}
	if h.CRLShards() != 4 || bare.CRLShards() != DefaultCRLShards {
		t.Errorf("CRLShards() = %d, %d; want 4, %d", h.CRLShards(), bare.CRLShards(), DefaultCRLShards)
	}
}

func TestCRLRejects(t *testing.T) {
	h, clk := newHierarchy(t, Config{CRLBaseURL: testCRLBase, CRLShards: 8})
	bare, _ := newHierarchy(t, Config{})
	now := clk.Now()
	ok := []RevokedEntry{{Serial: big.NewInt(1), RevokedAt: now, Reason: 1}}
	tests := []struct {
		name     string
		h        *Hierarchy
		id       string
		shard    int
		entries  []RevokedEntry
		validity time.Duration
		zeroTime bool // thisUpdate is the zero time instead of now
		want     error
	}{
		{name: "unknown issuer", id: "x1", shard: 1, validity: time.Hour, want: ErrUnknownIssuer},
		{name: "shard 0", id: "e1", shard: 0, validity: time.Hour, want: ErrCRLShard},
		{name: "shard past the end", id: "e1", shard: 9, validity: time.Hour, want: ErrCRLShard},
		{name: "no CRL URL", h: bare, id: "e1", shard: 1, validity: time.Hour, want: ErrNoCRLURL},
		{name: "zero validity", id: "e1", shard: 1, want: ErrValidity},
		{name: "zero thisUpdate", id: "e1", shard: 1, validity: time.Hour, zeroTime: true, want: ErrValidity},
		{name: "negative validity", id: "e1", shard: 1, validity: -time.Hour, want: ErrValidity},
		{name: "validity of 10 days", id: "r1", shard: 1, validity: 240 * time.Hour, want: ErrValidity},
		{name: "nil serial", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: append(ok, RevokedEntry{RevokedAt: now})},
		{name: "no revocation time", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: []RevokedEntry{{Serial: big.NewInt(2)}}},
		{name: "reason 7", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: []RevokedEntry{{Serial: big.NewInt(2), RevokedAt: now, Reason: 7}}},
		{name: "reason 8 (delta CRLs only)", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: []RevokedEntry{{Serial: big.NewInt(2), RevokedAt: now, Reason: 8}}},
		{name: "reason 11", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: []RevokedEntry{{Serial: big.NewInt(2), RevokedAt: now, Reason: 11}}},
		{name: "negative reason", id: "e1", shard: 1, validity: time.Hour, want: ErrRevokedEntry,
			entries: []RevokedEntry{{Serial: big.NewInt(2), RevokedAt: now, Reason: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hh := tt.h
			if hh == nil {
				hh = h
			}
			thisUpdate := now
			if tt.zeroTime {
				thisUpdate = time.Time{}
			}
			der, err := hh.CRL(tt.id, tt.shard, tt.entries, thisUpdate, tt.validity)
			if !errors.Is(err, tt.want) || der != nil {
				t.Fatalf("CRL() = %d bytes, %v; want %v", len(der), err, tt.want)
			}
		})
	}
}

// TestOpenSSLCRL verifies shard CRLs with openssl crl -CAfile and checks
// how openssl renders the IDP and the reasons.
func TestOpenSSLCRL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found")
	}
	h, clk := newHierarchy(t, Config{CRLBaseURL: testCRLBase, CRLShards: 4})
	for _, iss := range h.Issuers() {
		t.Run(iss.ID, func(t *testing.T) {
			der, err := h.CRL(iss.ID, 2, testEntries(4, clk.Now()), clk.Now(), 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			files := map[string][]byte{"crl.der": der, "ca.pem": append(encodeCerts(iss.Cert), h.BundlePEM()...)}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(openssl, "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile", "ca.pem")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openssl crl: %v\n%s", err, out)
			}
			t.Logf("openssl crl:\n%s", out)
			for _, want := range []string{"verify OK", "X509v3 Issuing Distribution Point: critical",
				"URI:" + h.CRLURL(iss.ID, 2), "Only User Certificates", "Key Compromise",
				"Superseded", "Cessation Of Operation", "Version 2"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("openssl output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCRLMatchesCryptoX509 is a differential test: the hand-encoded
// tbsCertList must be byte for byte what x509.CreateRevocationList makes
// from the same template, with the IDP as an extra extension.
func TestCRLMatchesCryptoX509(t *testing.T) {
	h, clk := newHierarchy(t, Config{CRLBaseURL: testCRLBase})
	now := clk.Now().Add(987654321 * time.Nanosecond)
	tests := []struct {
		name       string
		entries    []RevokedEntry
		thisUpdate time.Time
	}{
		{name: "empty", thisUpdate: now},
		{name: "subscriber reasons", entries: testEntries(12, now), thisUpdate: now},
		{name: "small and huge serials, local time zone", thisUpdate: now.In(time.FixedZone("X", 5*3600)),
			entries: []RevokedEntry{
				{Serial: big.NewInt(0), RevokedAt: now.In(time.FixedZone("Y", -7*3600)), Reason: 9},
				{Serial: big.NewInt(127), RevokedAt: now, Reason: 10},
				{Serial: big.NewInt(128), RevokedAt: now, Reason: 6},
				{Serial: new(big.Int).Lsh(big.NewInt(1), 159), RevokedAt: now, Reason: 3},
			}},
		{name: "times past 2049 use GeneralizedTime", thisUpdate: time.Date(2049, 12, 31, 12, 0, 0, 0, time.UTC),
			entries: []RevokedEntry{{Serial: big.NewInt(5), RevokedAt: time.Date(2050, 1, 2, 0, 0, 0, 0, time.UTC), Reason: 1}}},
	}
	for _, tt := range tests {
		for _, iss := range h.Issuers() {
			t.Run(tt.name+"/"+iss.ID, func(t *testing.T) {
				validity := 216 * time.Hour
				der, err := h.CRL(iss.ID, 3, tt.entries, tt.thisUpdate, validity)
				if err != nil {
					t.Fatal(err)
				}
				got, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Fatal(err)
				}
				idp, err := encodeIDP(h.CRLURL(iss.ID, 3))
				if err != nil {
					t.Fatal(err)
				}
				tmpl := &x509.RevocationList{Number: big.NewInt(tt.thisUpdate.UnixNano()), ThisUpdate: tt.thisUpdate,
					NextUpdate:      tt.thisUpdate.Add(validity - time.Second),
					ExtraExtensions: []pkix.Extension{{Id: oidIssuingDistributionPoint(), Critical: true, Value: idp}}}
				for _, e := range tt.entries {
					tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
						x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason})
				}
				wantDER, err := x509.CreateRevocationList(rand.Reader, tmpl, iss.Cert, iss.signer)
				if err != nil {
					t.Fatal(err)
				}
				want, err := x509.ParseRevocationList(wantDER)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.RawTBSRevocationList, want.RawTBSRevocationList) {
					t.Fatalf("tbsCertList differs from crypto/x509's:\n got %x\nwant %x",
						got.RawTBSRevocationList, want.RawTBSRevocationList)
				}
				if got.SignatureAlgorithm != want.SignatureAlgorithm {
					t.Errorf("signature algorithm %v, want %v", got.SignatureAlgorithm, want.SignatureAlgorithm)
				}
				if iss.Cert.PublicKeyAlgorithm == x509.RSA && !bytes.Equal(der, wantDER) {
					t.Error("RSA PKCS #1 v1.5 signatures are deterministic, but the CRLs differ")
				}
			})
		}
	}
}
