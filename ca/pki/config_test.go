package pki

import (
	"strings"
	"testing"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/internal/yamltest"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // prefix; "" means valid
	}{
		{name: "zero value is valid", cfg: Config{}},
		{name: "fakeca preset", cfg: Config{Hierarchy: "fakeca"}},
		{name: "staging preset", cfg: Config{Hierarchy: "letsencrypt-staging"}},
		{name: "production preset", cfg: Config{Hierarchy: "letsencrypt-production"}},
		{name: "all URLs", cfg: Config{AIABaseURL: "http://127.0.0.1:14080/aia/", CRLBaseURL: "https://c.example/crl/", CRLShards: 4}},
		{name: "unknown preset", cfg: Config{Hierarchy: "pebble"},
			wantErr: `pki.hierarchy: unknown preset "pebble" (want one of fakeca, letsencrypt-production, letsencrypt-staging)`},
		{name: "preset is case sensitive", cfg: Config{Hierarchy: "FakeCA"}, wantErr: "pki.hierarchy: unknown preset"},
		{name: "negative shards", cfg: Config{CRLShards: -1}, wantErr: "pki.crlShards: must be > 0"},
		{name: "aia without slash", cfg: Config{AIABaseURL: "http://x/aia"}, wantErr: `pki.aiaBaseURL: must end with "/"`},
		{name: "aia relative", cfg: Config{AIABaseURL: "/aia/"}, wantErr: "pki.aiaBaseURL: must be an absolute http or https URL"},
		{name: "aia ftp", cfg: Config{AIABaseURL: "ftp://x/aia/"}, wantErr: "pki.aiaBaseURL: must be an absolute http or https URL"},
		{name: "crl without host", cfg: Config{CRLBaseURL: "http:///crl/"}, wantErr: "pki.crlBaseURL: must name a host"},
		{name: "crl with query", cfg: Config{CRLBaseURL: "http://x/crl/?a=b"}, wantErr: "pki.crlBaseURL: must not have a query"},
		{name: "crl unparsable", cfg: Config{CRLBaseURL: "http://x:bad/"}, wantErr: "pki.crlBaseURL: must be an absolute http or https URL"},
		{name: "ocsp without slash", cfg: Config{OCSPBaseURL: "http://127.0.0.1:14080/ocsp"}},
		{name: "ocsp with slash", cfg: Config{OCSPBaseURL: "https://o.example/ocsp/"}},
		{name: "ocsp relative", cfg: Config{OCSPBaseURL: "/ocsp"}, wantErr: "pki.ocspBaseURL: must be an absolute http or https URL"},
		{name: "ocsp without host", cfg: Config{OCSPBaseURL: "http:///ocsp"}, wantErr: "pki.ocspBaseURL: must name a host"},
		{name: "ocsp with fragment", cfg: Config{OCSPBaseURL: "http://o.example/ocsp#x"}, wantErr: "pki.ocspBaseURL: must not have a query"},
		{name: "ocsp with empty query", cfg: Config{OCSPBaseURL: "http://o.example/ocsp?"}, wantErr: "pki.ocspBaseURL: must not have a query"},
		{name: "non-ASCII URL", cfg: Config{CRLBaseURL: "http://bücher.example/"}, wantErr: "pki.crlBaseURL: must be ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want %q", tt.wantErr)
			case tt.wantErr != "" && !strings.HasPrefix(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %q, want prefix %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	clk := clocktesting.NewFakeClock(testStart())
	tests := []struct {
		name    string
		cfg     Config
		deps    Deps
		wantErr string
	}{
		{name: "bad config", cfg: Config{Hierarchy: "nope"}, deps: Deps{Clock: clk}, wantErr: "pki.hierarchy: "},
		{name: "bad shards", cfg: Config{CRLShards: -5}, deps: Deps{Clock: clk}, wantErr: "pki.crlShards: "},
		{name: "no clock", cfg: Config{}, deps: Deps{}, wantErr: "pki: Deps.Clock is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg, tt.deps)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v, %v; want error with prefix %q", h, err, tt.wantErr)
			}
		})
	}
}

// TestBadConfigFiles loads each testdata/bad_*.yaml strictly, as cmd/fakeca
// does, and expects the error named on its "# want:" first line.
func TestBadConfigFiles(t *testing.T) {
	yamltest.BadFiles(t, "testdata", func(data []byte) error { return yamltest.Strict(data, &Config{}) })
}
