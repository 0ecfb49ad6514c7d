package policy

import (
	"slices"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

func TestChallengeTypes(t *testing.T) {
	all := Options{DNSAccount01: true, DNSPersist01: true}
	tests := []struct {
		name string
		id   acme.Identifier
		opts Options
		want []string
	}{
		{"DNS", dns("example.com"), Options{}, []string{"http-01", "dns-01", "tls-alpn-01"}},
		{"wildcard", dns("*.example.com"), Options{}, []string{"dns-01"}},
		{"IPv4", ip("8.8.8.8"), Options{}, []string{"http-01", "tls-alpn-01"}},
		{"IPv6", ip("2001:4860:4860::8888"), Options{}, []string{"http-01", "tls-alpn-01"}},
		{"unknown type", acme.Identifier{Type: "email", Value: "a@b.c"}, Options{}, nil},
		{"DNS with drafts", dns("example.com"), all,
			[]string{"http-01", "dns-01", "tls-alpn-01", "dns-account-01", "dns-persist-01"}},
		{"DNS with dns-account-01 only", dns("example.com"), Options{DNSAccount01: true},
			[]string{"http-01", "dns-01", "tls-alpn-01", "dns-account-01"}},
		{"DNS with dns-persist-01 only", dns("example.com"), Options{DNSPersist01: true},
			[]string{"http-01", "dns-01", "tls-alpn-01", "dns-persist-01"}},
		{"wildcard with drafts", dns("*.example.com"), all, []string{"dns-01", "dns-account-01", "dns-persist-01"}},
		{"IP never gets the drafts", ip("8.8.8.8"), all, []string{"http-01", "tls-alpn-01"}},
		{"unknown type with drafts", acme.Identifier{Type: "email", Value: "a@b.c"}, all, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ChallengeTypesWith(tc.id, tc.opts); !slices.Equal(got, tc.want) {
				t.Fatalf("ChallengeTypesWith: got %v, want %v", got, tc.want)
			}
			if tc.opts == (Options{}) {
				if got := ChallengeTypes(tc.id); !slices.Equal(got, tc.want) {
					t.Fatalf("ChallengeTypes: got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
