package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/fakeca/fakeca/ca"
)

// pebbleConfig is Pebble's JSON configuration file: every key under
// "pebble" (shared/reference/pebble.md §1.10). Keys match
// case-insensitively, as Go's encoding/json does for Pebble.
type pebbleConfig struct {
	ListenAddress                  string
	ManagementListenAddress        string
	Certificate                    string
	PrivateKey                     string
	HTTPPort                       int
	TLSPort                        int
	OCSPResponderURL               string
	ExternalAccountBindingRequired bool
	ExternalAccountMACKeys         map[string]string
	DomainBlocklist                []string
	CAAIdentities                  []string
	KeyAlgorithm                   string
	Profiles                       map[string]pebbleProfile
	RetryAfter                     struct{ Authz, Order int }
	CertificateValidityPeriod      uint64 // deprecated and ignored, as by Pebble since v2.7.0

	// fakeca is the optional top-level "fakeca" object next to "pebble":
	// fakeca's own configuration keys (the --config file's), applied on
	// top of the Pebble settings.
	fakeca json.RawMessage
}

// pebbleProfile is one entry of Pebble's "profiles".
type pebbleProfile struct {
	Description       string
	ValidityPeriod    uint64 // seconds; 0 or >= pebbleMaxValidity means 90 days
	PromoteCommonName bool
}

// Pebble's defaults (reference §1.7, §1.10).
const (
	pebbleDefaultValidity   = 7776000 * time.Second
	pebbleMaxValidity       = 9223372038 // seconds; Pebble treats larger as unset
	pebbleDefaultCAA        = "pebble.letsencrypt.org"
	pebbleDefaultProfile    = "default"
	pebbleDefaultProfileDoc = "The profile you know and love"
)

// pebbleKeys maps each lower-cased key to its field and the type named in
// errors.
func (c *pebbleConfig) keys() map[string]struct {
	name, want string
	dst        any
} {
	type k = struct {
		name, want string
		dst        any
	}
	return map[string]k{
		"listenaddress":                  {"listenAddress", "a string", &c.ListenAddress},
		"managementlistenaddress":        {"managementListenAddress", "a string", &c.ManagementListenAddress},
		"certificate":                    {"certificate", "a string", &c.Certificate},
		"privatekey":                     {"privateKey", "a string", &c.PrivateKey},
		"httpport":                       {"httpPort", "a number", &c.HTTPPort},
		"tlsport":                        {"tlsPort", "a number", &c.TLSPort},
		"ocspresponderurl":               {"ocspResponderURL", "a string", &c.OCSPResponderURL},
		"externalaccountbindingrequired": {"externalAccountBindingRequired", "a boolean", &c.ExternalAccountBindingRequired},
		"externalaccountmackeys":         {"externalAccountMACKeys", "an object of strings", &c.ExternalAccountMACKeys},
		"domainblocklist":                {"domainBlocklist", "an array of strings", &c.DomainBlocklist},
		"caaidentities":                  {"caaIdentities", "an array of strings", &c.CAAIdentities},
		"keyalgorithm":                   {"keyAlgorithm", "a string", &c.KeyAlgorithm},
		"profiles":                       {"profiles", "an object of profiles", &c.Profiles},
		"retryafter":                     {"retryAfter", `an object {"authz": n, "order": n}`, &c.RetryAfter},
		"certificatevalidityperiod":      {"certificateValidityPeriod", "a number", &c.CertificateValidityPeriod},
	}
}

// parsePebbleConfig decodes Pebble's JSON config. Unknown keys are ignored
// and returned (sorted, as "pebble.key") so the caller can warn once; a
// value of the wrong type is an error naming its key.
func parsePebbleConfig(raw []byte) (pebbleConfig, []string, error) {
	var c pebbleConfig
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return c, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var unknown []string
	var body json.RawMessage
	for k, v := range top {
		switch {
		case strings.EqualFold(k, "pebble"):
			body = v
		case strings.EqualFold(k, "fakeca"):
			c.fakeca = v
		default:
			unknown = append(unknown, k)
		}
	}
	if body == nil || bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return c, nil, errors.New(`no "pebble" object`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return c, nil, fmt.Errorf("pebble: want an object, got %s", jsonKind(body))
	}
	keys := c.keys()
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f, ok := keys[strings.ToLower(k)]
		if !ok {
			unknown = append(unknown, "pebble."+k)
			continue
		}
		if err := json.Unmarshal(fields[k], f.dst); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return c, nil, fmt.Errorf("pebble.%s.%s: want %s, got %s", nestedName(f.name, fields[k]),
					jsonFieldPath(te.Field), goKind(te.Type), te.Value)
			}
			return c, nil, fmt.Errorf("pebble.%s: want %s, got %s", f.name, f.want, jsonKind(fields[k]))
		}
	}
	sort.Strings(unknown)
	return c, unknown, nil
}

// nestedName is key, or for "profiles" key.<name> of the first profile
// (sorted) that does not decode, so errors name the profile.
func nestedName(key string, raw json.RawMessage) string {
	if key != "profiles" {
		return key
	}
	var ps map[string]json.RawMessage
	if json.Unmarshal(raw, &ps) != nil {
		return key
	}
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var p pebbleProfile
		if json.Unmarshal(ps[n], &p) != nil {
			return key + "." + n
		}
	}
	return key
}

// jsonFieldPath turns a Go field path ("ValidityPeriod") into the
// camelCase key Pebble's documentation uses ("validityPeriod").
func jsonFieldPath(field string) string {
	parts := strings.Split(field, ".")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToLower(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, ".")
}

// goKind names a Go type as the JSON kind it decodes from.
func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string " + string(v)
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean " + string(v)
	case 'n':
		return "null"
	}
	return "a number " + string(v)
}

// caConfig maps the Pebble settings onto fakeca's ca.Config, starting
// from the "pebble" preset.
func (c pebbleConfig) caConfig(base ca.Config, strict bool) (ca.Config, error) {
	cfg := base
	cfg.Paths, cfg.RequireUserAgent, cfg.Strict = ca.PathsPebble, true, strict
	cfg.AllowOrderValidity = true // Pebble honours notBefore/notAfter as given
	// Pebble's retryAfter: seconds, 0 (or absent) sends no header.
	cfg.RetryAfterOrder = time.Duration(c.RetryAfter.Order) * time.Second
	cfg.RetryAfterAuthz = time.Duration(c.RetryAfter.Authz) * time.Second
	cfg.CAAIdentities = []string{pebbleDefaultCAA}
	if len(c.CAAIdentities) > 0 {
		cfg.CAAIdentities = c.CAAIdentities
	}
	cfg.ExternalAccountRequired, cfg.EABKeys = c.ExternalAccountBindingRequired, c.ExternalAccountMACKeys
	if cfg.ExternalAccountRequired && len(cfg.EABKeys) == 0 {
		return cfg, errors.New("pebble.externalAccountMACKeys: externalAccountBindingRequired needs at least one key")
	}
	for kid, k := range cfg.EABKeys {
		if k == "" || strings.ContainsAny(k, "+/=") {
			return cfg, fmt.Errorf("pebble.externalAccountMACKeys.%s: want base64url without padding", kid)
		}
	}
	for _, d := range c.DomainBlocklist {
		d = strings.TrimPrefix(strings.TrimSpace(d), "*.")
		if d != "" {
			cfg.Policy.Blocklist = append(cfg.Policy.Blocklist, "*."+d) // Pebble blocks by suffix
		}
	}
	cfg.Profiles = map[string]ca.Profile{}
	profiles := c.Profiles
	if len(profiles) == 0 {
		profiles = map[string]pebbleProfile{pebbleDefaultProfile: {Description: pebbleDefaultProfileDoc}}
	}
	names := make([]string, 0, len(profiles))
	for name, p := range profiles {
		names = append(names, name)
		validity := pebbleDefaultValidity
		if p.ValidityPeriod > 0 && p.ValidityPeriod < pebbleMaxValidity {
			validity = time.Duration(p.ValidityPeriod) * time.Second
		}
		cfg.Profiles[name] = ca.Profile{Description: p.Description, Validity: validity,
			PendingAuthzLifetime: time.Hour, ValidAuthzLifetime: time.Hour, OrderLifetime: 24 * time.Hour,
			MaxNames: 1000, AllowIP: true, OmitCommonName: !p.PromoteCommonName,
			OmitKeyEncipherment: true, OmitSKID: true}
	}
	sort.Strings(names)
	cfg.DefaultProfile = names[0]
	if _, ok := profiles[pebbleDefaultProfile]; ok {
		cfg.DefaultProfile = pebbleDefaultProfile
	}
	return cfg, nil
}

// check reports settings fakeca cannot honour; errors name the key.
func (c pebbleConfig) check() error {
	if c.ListenAddress == "" {
		return errors.New("pebble.listenAddress: required")
	}
	if (c.Certificate == "") != (c.PrivateKey == "") {
		return errors.New("pebble.certificate, pebble.privateKey: give both or neither")
	}
	for name, p := range map[string]int{"httpPort": c.HTTPPort, "tlsPort": c.TLSPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("pebble.%s: %d is not a port (1-65535)", name, p)
		}
	}
	switch strings.ToLower(c.KeyAlgorithm) {
	case "", "rsa", "ecdsa":
	case "mldsa":
		return errors.New("pebble.keyAlgorithm: mldsa is not supported (use rsa or ecdsa)")
	default:
		return fmt.Errorf("pebble.keyAlgorithm: %q is not rsa or ecdsa", c.KeyAlgorithm)
	}
	if c.OCSPResponderURL != "" {
		u, err := url.Parse(c.OCSPResponderURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("pebble.ocspResponderURL: %q is not an http(s) URL", c.OCSPResponderURL)
		}
	}
	if c.RetryAfter.Authz < 0 || c.RetryAfter.Order < 0 {
		return errors.New("pebble.retryAfter: seconds must be >= 0")
	}
	return nil
}
