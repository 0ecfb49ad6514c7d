package ca

import (
	"testing"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/store"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"no profiles", func(c *Config) { c.Profiles = nil }, "ca.profiles: at least one profile is required"},
		{"zero validity", func(c *Config) { p := c.Profiles["tlsserver"]; p.Validity = 0; c.Profiles["tlsserver"] = p },
			"ca.profiles.tlsserver.validity: must be > 0"},
		{"zero pending lifetime", func(c *Config) {
			p := c.Profiles["classic"]
			p.PendingAuthzLifetime = 0
			c.Profiles["classic"] = p
		}, "ca.profiles.classic.pendingAuthzLifetime: must be > 0"},
		{"zero valid lifetime", func(c *Config) {
			p := c.Profiles["classic"]
			p.ValidAuthzLifetime = 0
			c.Profiles["classic"] = p
		}, "ca.profiles.classic.validAuthzLifetime: must be > 0"},
		{"zero order lifetime", func(c *Config) {
			p := c.Profiles["classic"]
			p.OrderLifetime = 0
			c.Profiles["classic"] = p
		}, "ca.profiles.classic.orderLifetime: must be > 0"},
		{"zero max names", func(c *Config) { p := c.Profiles["shortlived"]; p.MaxNames = 0; c.Profiles["shortlived"] = p },
			"ca.profiles.shortlived.maxNames: must be > 0"},
		{"unknown default profile", func(c *Config) { c.DefaultProfile = "gold" }, `ca.defaultProfile: "gold" is not a configured profile`},
		{"EAB required without keys", func(c *Config) { c.ExternalAccountRequired = true }, "ca.eabKeys: externalAccountRequired needs at least one key"},
		{"EAB key not base64url", func(c *Config) { c.EABKeys = map[string]string{"k1": "!!"} }, "ca.eabKeys.k1: must be a non-empty base64url HMAC key"},
		{"no workers", func(c *Config) { c.ValidationWorkers = 0 }, "ca.validationWorkers: must be > 0"},
		{"negative orders per page", func(c *Config) { c.OrdersPerPage = -1 }, "ca.ordersPerPage: -1 must be >= 0"},
		{"orders list", func(c *Config) { c.OrdersPerPage = 3 }, ""},
		{"bad policy", func(c *Config) { c.Policy.Blocklist = []string{""} }, "ca.policy.blocklist[0]: must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if got := errText(err); got != tc.want {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewRequiresDeps(t *testing.T) {
	t.Parallel()
	clk := clocktesting.NewFakeClock(testStart)
	h := loadPKI(t, pkiDirs.main, clk)
	full := Deps{Clock: clk, Store: store.NewMemory(), PKI: h, Validator: alwaysValid()}
	tests := []struct {
		name string
		edit func(*Deps)
	}{
		{"no clock", func(d *Deps) { d.Clock = nil }},
		{"no store", func(d *Deps) { d.Store = nil }},
		{"no PKI", func(d *Deps) { d.PKI = nil }},
		{"no validator", func(d *Deps) { d.Validator = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := full
			tc.edit(&d)
			if _, err := New(DefaultConfig(), d); errText(err) != "ca.New: Clock, Store, PKI and Validator are required" {
				t.Errorf("New = %v", err)
			}
		})
	}
	bad := DefaultConfig()
	bad.ValidationWorkers = -1
	if _, err := New(bad, full); errText(err) != "ca.validationWorkers: must be > 0" {
		t.Errorf("New with a bad config = %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
