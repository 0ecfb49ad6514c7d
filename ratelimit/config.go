package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// configPath is the YAML path of Config in fakeca's configuration file;
// every Validate message starts with it.
const configPath = "rateLimits"

// Defaults applied to zero-valued Config fields.
const (
	// DefaultUnpauseBaseURL is fakeca's default ACME listener, which serves
	// the unpause pages (Let's Encrypt: https://portal.letsencrypt.org).
	DefaultUnpauseBaseURL = "https://127.0.0.1:14000"
	// DefaultUnpauseJWTLifetime is how long an unpause link works: 336h, as
	// in Boulder's test configuration (production's value is not public).
	DefaultUnpauseJWTLifetime = 14 * 24 * time.Hour
)

// Config selects the limits. The zero value is valid and means the
// letsencrypt-staging preset with no overrides, unpause links pointing at
// DefaultUnpauseBaseURL and per-endpoint request limits on. A Config is
// plain data; New copies what it needs.
type Config struct {
	// Preset is letsencrypt-staging (default), letsencrypt-production or
	// off. It sets the default of every limit and of the per-endpoint
	// request limits. Choose production to see a client meet Let's
	// Encrypt's real numbers; off to test nothing but issuance.
	Preset string `yaml:"preset,omitempty"`

	// Limits replace a preset's default for a whole limit, in Boulder's
	// defaults shape without ids, e.g. NewOrdersPerAccount {burst: 3,
	// count: 3, period: 1h} to hit the limit after three orders. Default:
	// none. CertificatesPerDomainPerAccount has no default at Let's Encrypt
	// and can only be an override.
	Limits []Override `yaml:"limits,omitempty"`

	// Overrides change a limit for some keys, in Boulder's overrides shape
	// (a limit name, burst/count/period and ids). An id is an account ID
	// (NewOrdersPerAccount, FailedAuthorizations*, CertificatesPerDomainPerAccount),
	// an IP address (NewRegistrationsPerIPAddress), an IPv6 /48
	// (NewRegistrationsPerIPv6Range), a registered domain, IPv4 address or
	// IPv6 /64 base address (CertificatesPerDomain) or a comma-separated
	// identifier set (CertificatesPerFQDNSet). An override applies even
	// when the preset disables the limit. Default: none.
	Overrides []Override `yaml:"overrides,omitempty"`

	// UnpauseBaseURL prefixes "/sfe/v1/unpause?jwt=…" in the paused-account
	// error; it must reach UnpauseHandler. Default DefaultUnpauseBaseURL.
	UnpauseBaseURL string `yaml:"unpauseBaseURL,omitempty"`

	// UnpauseJWTLifetime is how long an unpause link stays valid.
	// Default DefaultUnpauseJWTLifetime.
	UnpauseJWTLifetime time.Duration `yaml:"unpauseJWTLifetime,omitempty"`

	// DisableRequestLimits turns off the per-IP, per-endpoint request limits
	// of Let's Encrypt's load balancer (503 "Service busy"), e.g. for load
	// tests. Default false: the preset's numbers apply.
	DisableRequestLimits bool `yaml:"disableRequestLimits,omitempty"`
}

// Override is one entry of Config.Limits or Config.Overrides: a limit's
// numbers (Burst requests at once, refilled at Count per Period) and, for
// an override, the IDs it applies to. In YAML it is Boulder's one-key
// mapping:
//
//	overrides:
//	  - NewOrdersPerAccount:
//	      burst: 300
//	      count: 600
//	      period: 180m
//	      ids:
//	        - id: 12345678
//	          comment: optional
//
// Plain data; the zero value is invalid.
type Override struct {
	Limit  Name
	Burst  int64
	Count  int64
	Period time.Duration
	IDs    []OverrideID

	unknown string // the YAML key, when it names no limit
}

// OverrideID is one id an override applies to, with an optional comment.
// Plain data.
type OverrideID struct {
	ID      string `yaml:"id"`
	Comment string `yaml:"comment,omitempty"`
}

// registry holds the limit of every bucket: defaults per Name and overrides
// per override key ("3:12345"). Immutable once built; safe to share.
type registry struct {
	defaults  [numNames]*limit
	overrides map[string]*limit
}

// lookup returns the limit for a bucket whose override key is overrideKey
// (for per-identifier limits "<enum>:<account>", else the bucket key), or
// nil when the limit is disabled for it.
func (r *registry) lookup(name Name, overrideKey string) *limit {
	if len(r.overrides) > 0 {
		if l, ok := r.overrides[overrideKey]; ok {
			return l
		}
	}
	return r.defaults[name]
}

// configured reports whether any of the limits is in force for some
// bucket, by default or through an override.
func (r *registry) configured(names ...Name) bool {
	for _, n := range names {
		if r.defaults[n] != nil {
			return true
		}
	}
	for _, l := range r.overrides {
		if slices.Contains(names, l.name) {
			return true
		}
	}
	return false
}

// built is what New takes from a valid Config.
type built struct {
	reg         registry
	requests    [numEndpoints]*limit
	unpauseBase string
	jwtLifetime time.Duration
}

// Validate reports every invalid field, one per line, each starting with its
// YAML path (e.g. "rateLimits.overrides[2].NewOrdersPerAccount.burst: must be
// > 0, got 0").
func (c Config) Validate() error {
	_, err := c.build()
	return err
}

// build validates c and turns it into the registry and settings.
func (c Config) build() (built, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", configPath, path, fmt.Sprintf(format, args...)))
	}
	b := built{reg: registry{overrides: map[string]*limit{}}}
	preset := c.Preset
	if preset == "" {
		preset = PresetStaging
	}
	defaults, ok := presetLimits(preset)
	if !ok {
		bad("preset", "unknown preset %q (want one of %s)", c.Preset, presetNames())
	}
	for n, s := range defaults {
		b.reg.defaults[n], _ = newLimit(Name(n), s, false)
	}
	if !c.DisableRequestLimits {
		for e, s := range presetRequestLimits(preset) {
			b.requests[e], _ = newLimit(0, s, false)
		}
	}
	for i, o := range c.Limits {
		l, path := o.check(fmt.Sprintf("limits[%d]", i), false, bad)
		switch {
		case l == nil:
		case len(o.IDs) > 0:
			bad(path+".ids", "not allowed here (limits change a default); put the entry under overrides")
		case o.Limit == CertificatesPerDomainPerAccount:
			bad(path, "has no default at Let's Encrypt; configure it under overrides")
		default:
			b.reg.defaults[o.Limit] = l
		}
	}
	owner := map[string]string{}
	for i, o := range c.Overrides {
		l, path := o.check(fmt.Sprintf("overrides[%d]", i), true, bad)
		if l == nil {
			continue
		}
		if len(o.IDs) == 0 {
			bad(path+".ids", "must list at least one id")
		}
		for j, id := range o.IDs {
			idPath := fmt.Sprintf("%s.ids[%d]", path, j)
			key, err := overrideKey(o.Limit, id.ID)
			if err != nil {
				bad(idPath+".id", "%v", err)
				continue
			}
			if prev, dup := owner[key]; dup {
				bad(idPath+".id", "bucket %q is already overridden by %s.%s", key, configPath, prev)
				continue
			}
			owner[key] = idPath
			b.reg.overrides[key] = l
		}
	}
	b.unpauseBase, b.jwtLifetime = c.unpauseSettings(bad)
	return b, errors.Join(errs...)
}

// check validates the numbers of o and returns its limit (nil if invalid)
// and its YAML path including the limit name.
func (o Override) check(path string, override bool, bad func(string, string, ...any)) (*limit, string) {
	if o.Limit <= 0 || o.Limit >= numNames {
		name := o.unknown
		if name == "" {
			name = strconv.Itoa(int(o.Limit))
		}
		bad(path, "unknown limit %q (want one of %s)", name, nameList())
		return nil, path
	}
	path += "." + o.Limit.String()
	ok := true
	if o.Burst <= 0 {
		bad(path+".burst", "must be > 0, got %d", o.Burst)
		ok = false
	}
	if o.Count <= 0 {
		bad(path+".count", "must be > 0, got %d", o.Count)
		ok = false
	}
	if o.Period <= 0 {
		bad(path+".period", "must be > 0, got %s", o.Period)
		ok = false
	}
	if !ok {
		return nil, path
	}
	l, ok := newLimit(o.Limit, spec{o.Burst, o.Count, o.Period}, override)
	if !ok {
		bad(path, "period %s / count %d must be at least 1ns and burst %d at most period/count × 2⁶¹ ns",
			o.Period, o.Count, o.Burst)
	}
	return l, path
}

func (c Config) unpauseSettings(bad func(string, string, ...any)) (string, time.Duration) {
	base := strings.TrimSuffix(c.UnpauseBaseURL, "/")
	if base == "" {
		base = DefaultUnpauseBaseURL
	} else if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("unpauseBaseURL", "%q must be an absolute http(s) URL without query, fragment or user", c.UnpauseBaseURL)
	}
	life := c.UnpauseJWTLifetime
	if life < 0 {
		bad("unpauseJWTLifetime", "must not be negative, got %s", life)
	}
	if life <= 0 {
		life = DefaultUnpauseJWTLifetime
	}
	return base, life
}

// overrideKey turns an override id into the override key it matches, as
// Boulder's override loader does.
func overrideKey(name Name, id string) (string, error) {
	switch name.idKind() {
	case idIPAddress:
		ip, err := netip.ParseAddr(id)
		if err != nil || ip.Zone() != "" {
			return "", fmt.Errorf("%q is not an IP address", id)
		}
		return name.prefix() + ip.Unmap().String(), nil
	case idIPv6Range:
		p, err := netip.ParsePrefix(id)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 48 {
			return "", fmt.Errorf("%q is not an IPv6 /48 range (e.g. 2001:db8:1::/48)", id)
		}
		if p.Masked() != p {
			return "", fmt.Errorf("%q has bits set after the /48; use %q", id, p.Masked().String())
		}
		return name.prefix() + p.String(), nil
	case idDomainOrCIDR:
		return domainOrCIDRKey(name, id)
	case idFQDNSet:
		for v := range strings.SplitSeq(id, ",") {
			if strings.TrimSpace(v) == "" {
				return "", fmt.Errorf("%q is not a comma-separated list of identifiers", id)
			}
		}
		return name.prefix() + fqdnSetHash(identifiersFromList(id)), nil
	}
	v, err := strconv.ParseInt(id, 10, 64)
	if err != nil || v <= 0 {
		return "", fmt.Errorf("%q is not an account ID (a positive integer)", id)
	}
	return name.prefix() + strconv.FormatInt(v, 10), nil
}

// domainOrCIDRKey handles CertificatesPerDomain ids: a registered domain,
// an IPv4 address (its /32) or the base address of an IPv6 /64.
func domainOrCIDRKey(name Name, id string) (string, error) {
	if ip, err := netip.ParseAddr(id); err == nil {
		ip = ip.Unmap()
		if ip.Zone() != "" {
			return "", fmt.Errorf("%q must not have a zone", id)
		}
		if ip.Is4() {
			return name.prefix() + ip.String() + "/32", nil
		}
		p, _ := ip.Prefix(64)
		if p.Addr() != ip {
			return "", fmt.Errorf("%q is not the base address of its /64; use %q", id, p.Addr().String())
		}
		return name.prefix() + p.String(), nil
	}
	d := strings.ToLower(id)
	if !hostname(d) {
		return "", fmt.Errorf("%q is not a domain name or IP address", id)
	}
	if rd := registeredDomain(d); rd != d {
		return "", fmt.Errorf("%q is not a registered domain; its certificates count against %q", id, rd)
	}
	return name.prefix() + d, nil
}

// hostname reports whether s is a plausible lowercase DNS name: dot-separated
// non-empty labels of letters, digits, '-' and '_'.
func hostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
