package pki

import (
	"testing"

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
