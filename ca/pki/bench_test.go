package pki

import (
	"crypto"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// BenchmarkIssue measures leaf issuance on the request path.
func BenchmarkIssue(b *testing.B) {
	profs := DefaultProfiles()
	tests := []struct {
		name    string
		key     string
		profile string
	}{
		{"ECDSA-P256/classic", "p256", "classic"},
		{"ECDSA-P256/shortlived", "p256", "shortlived"},
		{"RSA-2048/classic", "rsa", "classic"},
	}
	h, _ := newHierarchy(b, Config{AIABaseURL: "http://127.0.0.1:14080/aia/", CRLBaseURL: "http://127.0.0.1:14080/crl/"})
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			req := LeafRequest{PublicKey: newTestKey(b, tt.key).Public(),
				DNSNames: []string{"a.example", "www.a.example"}, Profile: profs[tt.profile]}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Issue(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkNew measures start-up: generating a fresh hierarchy.
func BenchmarkNew(b *testing.B) {
	clk := clocktesting.NewFakeClock(testStart())
	for b.Loop() {
		if _, err := New(Config{}, Deps{Clock: clk}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCRL100k measures signing one CRL shard holding 100,000 revoked
// certificates (target: well under 1 s).
func BenchmarkCRL100k(b *testing.B) {
	h, clk := newHierarchy(b, Config{CRLBaseURL: "http://127.0.0.1:14080/crl/"})
	entries := testEntries(100_000, clk.Now())
	for _, iss := range h.Issuers() {
		b.Run(iss.Cert.PublicKeyAlgorithm.String(), func(b *testing.B) {
			var size int
			cpu := cpuTime()
			for b.Loop() {
				der, err := h.CRL(iss.ID, 1, entries, clk.Now(), 24*time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(size), "bytes/crl")
		})
	}
}

// BenchmarkOCSP measures answering OCSP requests (parse, look up, sign) on
// all cores; the figure to watch is responses/s.
func BenchmarkOCSP(b *testing.B) {
	h, clk := newHierarchy(b, Config{OCSPBaseURL: "http://127.0.0.1:14080/ocsp"})
	prof := DefaultProfiles()["classic"]
	for _, kind := range []string{"p256", "rsa"} {
		leaf := issue(b, h, newTestKey(b, kind), prof, "a.example")
		req := ocspRequest(b, leaf.Cert, leaf.Issuer.Cert, crypto.SHA1)
		db := revocations{leaf.Issuer.ID + "/" + leaf.Serial: {}}
		b.Run("issuer="+leaf.Issuer.Cert.PublicKeyAlgorithm.String(), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.OCSPResponse(req, db.lookup, clk.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpu)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		})
	}
}

// reportCPU reports the process CPU time per operation since start
// (cpu-ns/op): on a shared machine it is steadier than ns/op, and
// GOMAXPROCS * 1e9 / cpu-ns/op is the throughput of otherwise idle cores.
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
