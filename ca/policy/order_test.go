package policy

import (
	"testing"

	"github.com/fakeca/fakeca/acme"
)

func TestCheckProfileIdentifiers(t *testing.T) {
	three := []acme.Identifier{dns("a.example.com"), dns("b.example.com"), dns("c.example.com")}
	withIP := []acme.Identifier{dns("example.com"), ip("8.8.8.8")}
	tests := []struct {
		name     string
		ids      []acme.Identifier
		profile  string
		allowIP  bool
		maxNames int
		typ      acme.ErrorType
		detail   string
	}{
		{"at the limit", three, "classic", false, 3, "", ""},
		{"no limit", three, "classic", false, 0, "", ""},
		{"over the limit", three, "classic", false, 2, acme.Malformed, "Order cannot contain more than 2 identifiers"},
		{"LE classic limit", make([]acme.Identifier, 101), "", false, 100, acme.Malformed, "Order cannot contain more than 100 identifiers"},
		{"limit checked before IP", withIP, "", false, 1, acme.Malformed, "Order cannot contain more than 1 identifiers"},
		{"IP with default profile", withIP, "", false, 25, acme.RejectedIdentifier,
			"Default profile does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/."},
		{"IP with named profile", withIP, "tlsserver", false, 25, acme.RejectedIdentifier,
			`Profile "tlsserver" does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/.`},
		{"IP allowed", withIP, "shortlived", true, 25, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, CheckProfileIdentifiers(tc.ids, tc.profile, tc.allowIP, tc.maxNames), tc.typ, tc.detail)
		})
	}
}

func TestCheckWildcardRedundancy(t *testing.T) {
	tests := []struct {
		name   string
		ids    []acme.Identifier
		detail string
	}{
		{"wildcard and apex", []acme.Identifier{dns("*.example.com"), dns("example.com")}, ""},
		{"wildcard and grandchild", []acme.Identifier{dns("*.example.com"), dns("a.b.example.com")}, ""},
		{"two wildcards", []acme.Identifier{dns("*.example.com"), dns("*.www.example.com")}, ""},
		{"IP beside wildcard", []acme.Identifier{dns("*.example.com"), ip("8.8.8.8")}, ""},
		{"covered name", []acme.Identifier{dns("*.example.com"), dns("www.example.com")},
			`Domain name "www.example.com" is redundant with a wildcard domain in the same request. Remove one or the other from the certificate request.`},
		{"first covered name reported", Canonical([]acme.Identifier{dns("*.example.com"), dns("www.example.com"), dns("api.example.com")}),
			`Domain name "api.example.com" is redundant with a wildcard domain in the same request. Remove one or the other from the certificate request.`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckWildcardRedundancy(tc.ids)
			if tc.detail == "" {
				wantProblem(t, err, "", "")
				return
			}
			wantProblem(t, err, acme.Malformed, tc.detail)
		})
	}
}
