package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/dnsserver"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

// fileConfig is the YAML configuration (--config). Every serve flag has a
// key here of the same name in camelCase; flags given on the command line
// win over the file, and the file wins over the preset.
type fileConfig struct {
	Preset             string        `yaml:"preset"`
	Listen             string        `yaml:"listen"`
	MgmtListen         string        `yaml:"mgmtListen"`
	HTTPListen         string        `yaml:"httpListen"`
	DataDir            string        `yaml:"dataDir"`
	BundleOut          string        `yaml:"bundleOut"`
	TLSHosts           []string      `yaml:"tlsHosts"`
	AlwaysValid        bool          `yaml:"alwaysValid"`
	HTTP01Port         int           `yaml:"http01Port"`
	TLSALPN01Port      int           `yaml:"tlsalpn01Port"`
	DNSResolvers       []string      `yaml:"dnsResolvers"`
	Resolve            []string      `yaml:"resolve"`
	LogFormat          string        `yaml:"logFormat"`
	StrictPublicSuffix bool          `yaml:"strictPublicSuffix"`
	AllowOrderValidity bool          `yaml:"allowOrderValidity"`
	Hierarchy          string        `yaml:"hierarchy"`
	ChainLength        int           `yaml:"chainLength"`
	AlternateRoots     int           `yaml:"alternateRoots"`
	LeafIssuer         string        `yaml:"leafIssuer"`
	OCSP               bool          `yaml:"ocsp"`
	AllowEd25519       bool          `yaml:"allowEd25519"`
	CRLPublishDelay    time.Duration `yaml:"crlPublishDelay"`
	PublicURL          string        `yaml:"publicURL"`
	CA                 *ca.Config    `yaml:"ca"`
	// RateLimits are Let's Encrypt's limits (preset, limits, overrides);
	// the preset follows the top-level preset unless set here.
	RateLimits ratelimit.Config `yaml:"rateLimits"`
	// DNS is fakeca's DNS server (dns.listen "" turns it off); the flags
	// --dns-listen, --dns-zone, --tsig and --challtestsrv-listen set it too.
	DNS dnsserver.Config `yaml:"dns"`
	// Faults are fault-injection rules (faults.rules); the PEBBLE_*
	// environment variables add theirs.
	Faults faults.Config `yaml:"faults"`
	// Events sizes the event journal (events.capacity).
	Events events.Config `yaml:"events"`
	// Validation holds the validator's other settings (delay, rules,
	// skipCAA, timeouts, redirectPortMap, forward); the top-level keys
	// above win over the same fields here.
	Validation challengeval.Config `yaml:"validation"`
}

// presets name coherent starting points (DESIGN.md "Configuration").
var presetNames = []string{"letsencrypt-staging", "letsencrypt-production", "pebble", "permissive"}

// defaults returns the configuration of a preset.
func defaults(preset string) (fileConfig, error) {
	c := fileConfig{Preset: preset, Listen: "127.0.0.1:14000", MgmtListen: "127.0.0.1:15000",
		HTTPListen: "127.0.0.1:14080", HTTP01Port: 80, TLSALPN01Port: 443, LogFormat: "text",
		DNS: dnsserver.DefaultConfig()}
	cfg := ca.DefaultConfig()
	switch preset {
	case "letsencrypt-staging":
		c.RateLimits.Preset = ratelimit.PresetStaging
		cfg.Challenges.DNSPersist01 = true // live in staging since June 2026 (reference §8)
	case "letsencrypt-production":
		cfg.Website = "https://letsencrypt.org"
		c.RateLimits.Preset = ratelimit.PresetProduction
	case "pebble":
		cfg.Website, cfg.TermsOfService = "", "data:text/plain,Do%20what%20thou%20wilt"
		cfg.CAAIdentities = []string{"pebble.letsencrypt.org"}
		cfg.Challenges.DNSAccount01, cfg.Challenges.DNSPersist01 = true, true
		c.RateLimits.Preset = ratelimit.PresetOff
	case "permissive":
		c.AlwaysValid, c.AllowOrderValidity = true, true
		cfg.Policy.AllowEd25519CSR = true
		c.RateLimits.Preset = ratelimit.PresetOff
	default:
		return c, fmt.Errorf("preset: unknown preset %q (want one of %s)", preset, strings.Join(presetNames, ", "))
	}
	c.CA = &cfg
	return c, nil
}

// loadConfig merges preset, file and the flags that were set, in that
// order of precedence (flags win). Unknown YAML keys are errors.
func loadConfig(flags *pflag.FlagSet, fromFlags fileConfig, path string) (fileConfig, error) {
	var raw []byte
	preset := "letsencrypt-staging"
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return fileConfig{}, fmt.Errorf("config: %w", err)
		}
		var p struct {
			Preset string `yaml:"preset"`
		}
		_ = yaml.Unmarshal(raw, &p) // syntax errors are reported by the strict decode below
		if p.Preset != "" {
			preset = p.Preset
		}
	}
	if flags.Changed("preset") {
		preset = fromFlags.Preset
	}
	cfg, err := defaults(preset)
	if err != nil {
		return fileConfig{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return fileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	mergeFlags(&cfg, flags, fromFlags)
	return cfg, nil
}

func mergeFlags(cfg *fileConfig, flags *pflag.FlagSet, f fileConfig) {
	set := func(name string, apply func()) {
		if flags.Changed(name) {
			apply()
		}
	}
	set("listen", func() { cfg.Listen = f.Listen })
	set("mgmt-listen", func() { cfg.MgmtListen = f.MgmtListen })
	set("http-listen", func() { cfg.HTTPListen = f.HTTPListen })
	set("data-dir", func() { cfg.DataDir = f.DataDir })
	set("bundle-out", func() { cfg.BundleOut = f.BundleOut })
	set("tls-hosts", func() { cfg.TLSHosts = f.TLSHosts })
	set("always-valid", func() { cfg.AlwaysValid = f.AlwaysValid })
	set("http01-port", func() { cfg.HTTP01Port = f.HTTP01Port })
	set("tlsalpn01-port", func() { cfg.TLSALPN01Port = f.TLSALPN01Port })
	set("dns-resolver", func() { cfg.DNSResolvers = f.DNSResolvers })
	set("resolve", func() { cfg.Resolve = f.Resolve })
	set("log-format", func() { cfg.LogFormat = f.LogFormat })
	set("strict-public-suffix", func() { cfg.StrictPublicSuffix = f.StrictPublicSuffix })
	set("allow-order-validity", func() { cfg.AllowOrderValidity = f.AllowOrderValidity })
	set("hierarchy", func() { cfg.Hierarchy = f.Hierarchy })
	set("chain-length", func() { cfg.ChainLength = f.ChainLength })
	set("alternate-roots", func() { cfg.AlternateRoots = f.AlternateRoots })
	set("ocsp", func() { cfg.OCSP = f.OCSP })
	set("allow-ed25519", func() { cfg.AllowEd25519 = f.AllowEd25519 })
	set("crl-publish-delay", func() { cfg.CRLPublishDelay = f.CRLPublishDelay })
	set("public-url", func() { cfg.PublicURL = f.PublicURL })
	mergeDNSFlags(&cfg.DNS, flags, f.DNS)
}

// instanceConfig validates the merged configuration and turns it into
// the values the packages take. Errors name the flag / YAML key.
func (c fileConfig) instanceConfig() (instance.Config, error) {
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return instance.Config{}, fmt.Errorf("logFormat (--log-format): %q is not text or json", c.LogFormat)
	}
	for name, port := range map[string]int{"http01Port (--http01-port)": c.HTTP01Port, "tlsalpn01Port (--tlsalpn01-port)": c.TLSALPN01Port} {
		if port < 1 || port > 65535 {
			return instance.Config{}, fmt.Errorf("%s: %d is not a port (1-65535)", name, port)
		}
	}
	val := c.Validation
	val.HTTP01Port, val.TLSALPN01Port, val.AlwaysValid = c.HTTP01Port, c.TLSALPN01Port, c.AlwaysValid || val.AlwaysValid
	if len(c.DNSResolvers) > 0 {
		val.Resolvers = c.DNSResolvers
	}
	if len(val.CAAIdentities) == 0 {
		val.CAAIdentities = c.CA.CAAIdentities // what the directory advertises
	}
	if len(val.Resolvers) == 0 && len(val.Forward) == 0 {
		sys, err := challengeval.SystemResolvers("/etc/resolv.conf")
		if err != nil && !c.AlwaysValid {
			return instance.Config{}, fmt.Errorf("dnsResolvers (--dns-resolver): none given and %w", err)
		}
		val.Resolvers = sys
	}
	for i, r := range c.Resolve {
		o, err := challengeval.ParseHostOverride(r)
		if err != nil {
			return instance.Config{}, fmt.Errorf("resolve[%d] (--resolve %q): %w", i, r, err)
		}
		val.HostOverrides = append(val.HostOverrides, o)
	}
	cacfg := *c.CA
	cacfg.AllowOrderValidity = cacfg.AllowOrderValidity || c.AllowOrderValidity
	cacfg.Policy.StrictPublicSuffix = cacfg.Policy.StrictPublicSuffix || c.StrictPublicSuffix
	cacfg.OCSP = cacfg.OCSP || c.OCSP
	cacfg.Policy.AllowEd25519CSR = cacfg.Policy.AllowEd25519CSR || c.AllowEd25519
	if c.CRLPublishDelay != 0 {
		cacfg.CRLPublishDelay = c.CRLPublishDelay
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return instance.Config{}, fmt.Errorf("publicURL (--public-url): %q is not an http(s) URL", c.PublicURL)
		}
	}
	cfg := instance.Config{Listen: c.Listen, MgmtListen: c.MgmtListen, HTTPListen: c.HTTPListen,
		TLSHosts: c.TLSHosts, DataDir: c.DataDir, CA: cacfg, Validation: val, PublicURL: c.PublicURL,
		RateLimits: c.RateLimits, Events: c.Events, Faults: c.Faults,
		PKI: pki.Config{Hierarchy: c.Hierarchy, ChainLength: c.ChainLength, AlternateRoots: c.AlternateRoots,
			LeafIssuer: c.LeafIssuer}}
	if err := val.Validate(); err != nil {
		return instance.Config{}, err
	}
	if err := cfg.PKI.Validate(); err != nil {
		// pki names its fields "pki.<key>"; here they are top-level keys.
		return instance.Config{}, errors.New(strings.TrimPrefix(err.Error(), "pki."))
	}
	if c.DNS.Listen != "" {
		if err := c.DNS.Validate(); err != nil {
			return instance.Config{}, err
		}
		dns := c.DNS
		if err := loadDoHKeyPair(&dns); err != nil {
			return instance.Config{}, err
		}
		cfg.DNS = &dns
	}
	if err := cfg.Faults.Validate(); err != nil {
		return instance.Config{}, err
	}
	if err := cfg.Events.Validate(); err != nil {
		return instance.Config{}, err
	}
	if err := cfg.RateLimits.Validate(); err != nil {
		return instance.Config{}, err
	}
	return cfg, cacfg.Validate()
}
