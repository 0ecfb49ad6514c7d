package ratelimit

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/internal/yamltest"
)

func ids(v ...string) []OverrideID {
	out := make([]OverrideID, len(v))
	for i, s := range v {
		out[i] = OverrideID{ID: s}
	}
	return out
}

// ov is a 1-per-hour override of n for ids.
func ov(n Name, v ...string) Override {
	return Override{Limit: n, Burst: 1, Count: 1, Period: time.Hour, IDs: ids(v...)}
}

// validateCase is a Config and the problems Validate must report, one line
// each (none: valid).
type validateCase struct {
	name string
	cfg  Config
	want []string
}

func runValidate(t *testing.T, tests []validateCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "zero value"},
		{name: "every kind of id", cfg: Config{Preset: PresetOff, UnpauseBaseURL: "http://localhost:14000/", UnpauseJWTLifetime: time.Hour,
			DisableRequestLimits: true,
			Limits:               []Override{{Limit: NewOrdersPerAccount, Burst: 3, Count: 3, Period: time.Hour}},
			Overrides: []Override{
				ov(NewRegistrationsPerIPAddress, "192.0.2.1", "2001:db8::1"), ov(NewRegistrationsPerIPv6Range, "2001:db8:1::/48"),
				ov(NewOrdersPerAccount, "12345678"), ov(FailedAuthorizationsPerDomainPerAccount, "1"),
				ov(CertificatesPerDomain, "example.com", "Example.NET", "192.0.2.1", "2001:db8::", "example.test", "co.uk"),
				ov(CertificatesPerDomainPerAccount, "1"), ov(CertificatesPerFQDNSet, "a.example.com,192.0.2.1"),
				ov(FailedAuthorizationsForPausingPerDomainPerAccount, "1"),
			}}},
		{name: "unknown preset", cfg: Config{Preset: "pebble"}, want: []string{
			`rateLimits.preset: unknown preset "pebble" (want one of letsencrypt-production, letsencrypt-staging, off)`}},
		{name: "bad numbers", cfg: Config{Overrides: []Override{
			ov(NewOrdersPerAccount, "1"),
			{Limit: NewOrdersPerAccount, Burst: 0, Count: -1, Period: 0, IDs: ids("2")},
			{Limit: NewOrdersPerAccount, Burst: 1, Count: 10, Period: 5, IDs: ids("3")},
		}}, want: []string{
			"rateLimits.overrides[1].NewOrdersPerAccount.burst: must be > 0, got 0",
			"rateLimits.overrides[1].NewOrdersPerAccount.count: must be > 0, got -1",
			"rateLimits.overrides[1].NewOrdersPerAccount.period: must be > 0, got 0s",
			"rateLimits.overrides[2].NewOrdersPerAccount: period 5ns / count 10 must be at least 1ns and burst 1 at most period/count × 2⁶¹ ns",
		}},
		{name: "unknown limit", cfg: Config{Overrides: []Override{{unknown: "NewOrdersPerAcount", Burst: 1, Count: 1, Period: time.Hour}}},
			want: []string{`rateLimits.overrides[0]: unknown limit "NewOrdersPerAcount" (want one of ` + nameList() + ")"}},
		{name: "override without ids", cfg: Config{Overrides: []Override{ov(NewOrdersPerAccount)}},
			want: []string{"rateLimits.overrides[0].NewOrdersPerAccount.ids: must list at least one id"}},
		{name: "limits with ids or without a default", cfg: Config{Limits: []Override{ov(NewOrdersPerAccount, "1"), ov(CertificatesPerDomainPerAccount)}},
			want: []string{
				"rateLimits.limits[0].NewOrdersPerAccount.ids: not allowed here (limits change a default); put the entry under overrides",
				"rateLimits.limits[1].CertificatesPerDomainPerAccount: has no default at Let's Encrypt; configure it under overrides",
			}},
		{name: "bad unpause settings", cfg: Config{UnpauseBaseURL: "portal.example.com", UnpauseJWTLifetime: -time.Second}, want: []string{
			`rateLimits.unpauseBaseURL: "portal.example.com" must be an absolute http(s) URL without query, fragment or user`,
			"rateLimits.unpauseJWTLifetime: must not be negative, got -1s",
		}},
	})
}

func TestConfigValidateIDs(t *testing.T) {
	runValidate(t, []validateCase{
		{name: "bad ids", cfg: Config{Overrides: []Override{
			ov(NewOrdersPerAccount, "abc", "0"),
			ov(NewRegistrationsPerIPAddress, "192.0.2.300"),
			ov(NewRegistrationsPerIPv6Range, "2001:db8:1::/64", "2001:db8:1:2::/48", "192.0.2.0/24"),
			ov(CertificatesPerDomain, "www.example.com", "2001:db8::1", "*.example.com", "fe80::1%eth0"),
			ov(CertificatesPerFQDNSet, "a.example.com,,b.example.com"),
		}}, want: []string{
			`rateLimits.overrides[0].NewOrdersPerAccount.ids[0].id: "abc" is not an account ID (a positive integer)`,
			`rateLimits.overrides[0].NewOrdersPerAccount.ids[1].id: "0" is not an account ID (a positive integer)`,
			`rateLimits.overrides[1].NewRegistrationsPerIPAddress.ids[0].id: "192.0.2.300" is not an IP address`,
			`rateLimits.overrides[2].NewRegistrationsPerIPv6Range.ids[0].id: "2001:db8:1::/64" is not an IPv6 /48 range (e.g. 2001:db8:1::/48)`,
			`rateLimits.overrides[2].NewRegistrationsPerIPv6Range.ids[1].id: "2001:db8:1:2::/48" has bits set after the /48; use "2001:db8:1::/48"`,
			`rateLimits.overrides[2].NewRegistrationsPerIPv6Range.ids[2].id: "192.0.2.0/24" is not an IPv6 /48 range (e.g. 2001:db8:1::/48)`,
			`rateLimits.overrides[3].CertificatesPerDomain.ids[0].id: "www.example.com" is not a registered domain; its certificates count against "example.com"`,
			`rateLimits.overrides[3].CertificatesPerDomain.ids[1].id: "2001:db8::1" is not the base address of its /64; use "2001:db8::"`,
			`rateLimits.overrides[3].CertificatesPerDomain.ids[2].id: "*.example.com" is not a domain name or IP address`,
			`rateLimits.overrides[3].CertificatesPerDomain.ids[3].id: "fe80::1%eth0" must not have a zone`,
			`rateLimits.overrides[4].CertificatesPerFQDNSet.ids[0].id: "a.example.com,,b.example.com" is not a comma-separated list of identifiers`,
		}},
		{name: "duplicate buckets", cfg: Config{Overrides: []Override{
			ov(NewOrdersPerAccount, "1"), ov(NewOrdersPerAccount, "2", "01"),
			ov(CertificatesPerFQDNSet, "a.com,b.com"), ov(CertificatesPerFQDNSet, "B.com, a.com"),
		}}, want: []string{
			`rateLimits.overrides[1].NewOrdersPerAccount.ids[1].id: bucket "3:1" is already overridden by rateLimits.overrides[0].NewOrdersPerAccount.ids[0]`,
			`rateLimits.overrides[3].CertificatesPerFQDNSet.ids[0].id: bucket "7:` + fqdnSetHash(dns("a.com", "b.com")) +
				`" is already overridden by rateLimits.overrides[2].CertificatesPerFQDNSet.ids[0]`,
		}},
	})
}

// decodeConfig decodes YAML strictly, as cmd/fakeca does.
func decodeConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestConfigYAML(t *testing.T) {
	const doc = `
preset: letsencrypt-production
unpauseBaseURL: https://portal.example.test
unpauseJWTLifetime: 24h
limits:
  - NewOrdersPerAccount:
      burst: 3
      count: 3
      period: 1h
overrides:
  - NewOrdersPerAccount:
      burst: 300
      count: 600
      period: 180m
      ids:
        - id: 12345678
          comment: optional
        - id: "42"
  - CertificatesPerFQDNSet:
      burst: 1
      count: 1
      period: 168h
      ids:
        - id: example.com,www.example.com
`
	cfg, err := decodeConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Override{Limit: NewOrdersPerAccount, Burst: 300, Count: 600, Period: 3 * time.Hour,
		IDs: []OverrideID{{ID: "12345678", Comment: "optional"}, {ID: "42"}}}
	if got := cfg.Overrides[0]; got.Limit != want.Limit || got.Burst != want.Burst || got.Count != want.Count ||
		got.Period != want.Period || !slices.Equal(got.IDs, want.IDs) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if cfg.Preset != PresetProduction || cfg.UnpauseJWTLifetime != 24*time.Hour || len(cfg.Limits) != 1 {
		t.Errorf("decoded %+v", cfg)
	}
	l, _ := newTest(t, cfg)
	if lim := l.reg.lookup(NewOrdersPerAccount, "3:42"); lim == nil || lim.count != 600 || !lim.override {
		t.Errorf("override for 42: %+v", lim)
	}
	if lim := l.reg.lookup(NewOrdersPerAccount, "3:7"); lim == nil || lim.burst != 3 {
		t.Errorf("default replaced by limits: %+v", lim)
	}
	// Round trip.
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := decodeConfig(out)
	if err != nil || len(again.Overrides) != 2 || again.Overrides[1].IDs[0].ID != "example.com,www.example.com" {
		t.Errorf("round trip: %v\n%s", err, out)
	}
}

// TestBadConfigFiles loads each testdata/bad_*.yaml strictly, as cmd/fakeca
// does, and expects the error named on its "# want:" first line.
func TestBadConfigFiles(t *testing.T) {
	yamltest.BadFiles(t, "testdata", func(data []byte) error {
		_, err := decodeConfig(data)
		return err
	})
}
