package ca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"time"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/ca/policy"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/store"
)

// Config is the ACME server's behaviour. The zero value is not valid: start
// from DefaultConfig, which mirrors Let's Encrypt staging.
type Config struct {
	// Profiles are the certificate profiles offered in the directory.
	// Default: LE's classic, tlsserver and shortlived (reference §4.1).
	Profiles map[string]Profile `yaml:"profiles"`
	// DefaultProfile is used when an order names none. Default "classic",
	// like Boulder's defaultProfileName.
	DefaultProfile string `yaml:"defaultProfile"`
	// TermsOfService, Website and CAAIdentities fill the directory's meta.
	TermsOfService string   `yaml:"termsOfService"`
	Website        string   `yaml:"website"`
	CAAIdentities  []string `yaml:"caaIdentities"`
	// ExternalAccountRequired makes new-account demand an EAB (RFC 8555
	// §7.3.4). EABKeys maps key IDs to base64url HMAC keys. LE: not required.
	ExternalAccountRequired bool              `yaml:"externalAccountRequired"`
	EABKeys                 map[string]string `yaml:"eabKeys"`
	// AllowOrderValidity accepts notBefore/notAfter in new-order (cert-manager's
	// enableDurationFeature). LE refuses them: default false.
	AllowOrderValidity bool `yaml:"allowOrderValidity"`
	// Policy is the identifier, key and CSR policy.
	Policy policy.Config `yaml:"policy"`
	// Challenges enables the draft challenge types dns-account-01 and
	// dns-persist-01 (listed after the RFC 8555 ones). Default off; Let's
	// Encrypt staging offers dns-persist-01.
	Challenges policy.Options `yaml:"challenges"`
	// CRLPublishDelay is how long after a revocation it first appears in a
	// CRL. Default 0 (at once); Let's Encrypt may take up to 24 hours.
	CRLPublishDelay time.Duration `yaml:"crlPublishDelay"`
	// CRLValidity is each CRL's validity (nextUpdate - thisUpdate + 1 s),
	// under 10 days. Default 7 days (Boulder's test config uses 9).
	CRLValidity time.Duration `yaml:"crlValidity"`
	// OCSP serves an OCSP responder at /ocsp on the public listener (and the
	// hierarchy then puts its URL in leaves). Let's Encrypt ended OCSP in
	// 2025: default false.
	OCSP bool `yaml:"ocsp"`
	// AuthzReusePercent is the chance (0-100) that a valid authorization is
	// reused by a new order of the same account. Default 100, as Let's
	// Encrypt always reuses; 0 is Pebble's PEBBLE_AUTHZREUSE=0.
	AuthzReusePercent int `yaml:"authzReusePercent"`
	// ValidationWorkers bounds concurrent validations and issuances.
	// Default 64.
	ValidationWorkers int `yaml:"validationWorkers"`
	// Paths selects the ACME listener's URL paths: PathsBoulder (default,
	// Let's Encrypt's) or PathsPebble (Pebble's /dir, /order-plz, …).
	Paths PathSet `yaml:"paths"`
	// RequireUserAgent refuses requests without a User-Agent with
	// malformed, as Pebble does since v2.10. Let's Encrypt does not:
	// default false.
	RequireUserAgent bool `yaml:"requireUserAgent"`
	// Strict is Pebble's -strict: JWS payloads with an ACME v1 "resource"
	// field and challenge POST bodies other than exactly {} are malformed.
	// Default false (Let's Encrypt accepts both).
	Strict bool `yaml:"strict"`
	// RetryAfterOrder is the Retry-After sent with an order while it is
	// processing (finalize and order polls); 0 sends none. Default 3 s, as
	// Boulder. Pebble's retryAfter.order.
	RetryAfterOrder time.Duration `yaml:"retryAfterOrder"`
	// RetryAfterAuthz is the Retry-After sent when polling a pending
	// authorization whose challenge is being validated; 0 sends none.
	// Default 0, as Boulder. Pebble's retryAfter.authz.
	RetryAfterAuthz time.Duration `yaml:"retryAfterAuthz"`
	// OrdersPerPage, when > 0, serves each account's orders list (RFC 8555
	// §7.1.2.1) the way Pebble does, with this many order URLs per page,
	// and puts its URL in account objects as "orders". The list is at
	// /acme/orders/<acct> (Paths boulder) or /list-orderz/<acct> (Paths
	// pebble); page n >= 2 is at <list>/page/<n>, and every page but the
	// last links the next with Link rel="next". It is POST-as-GET only, for
	// the owning account. Orders are listed oldest first; invalid ones
	// (failed, expired, with an unusable authorization) are left out.
	// Default 0: no list and no "orders" field, as Let's Encrypt (Boulder
	// never implemented it). Pebble's default is 3
	// (PEBBLE_WFE_ORDERS_PER_PAGE). Must be >= 0.
	OrdersPerPage int `yaml:"ordersPerPage"`
}

// Profile is one certificate profile: ACME-side lifetimes and limits plus
// the certificate shape handed to ca/pki.
type Profile struct {
	Description          string        `yaml:"description"`
	PendingAuthzLifetime time.Duration `yaml:"pendingAuthzLifetime"`
	ValidAuthzLifetime   time.Duration `yaml:"validAuthzLifetime"`
	OrderLifetime        time.Duration `yaml:"orderLifetime"`
	MaxNames             int           `yaml:"maxNames"`
	AllowIP              bool          `yaml:"allowIP"`
	Validity             time.Duration `yaml:"validity"`
	OmitCommonName       bool          `yaml:"omitCommonName"`
	OmitKeyEncipherment  bool          `yaml:"omitKeyEncipherment"`
	OmitSKID             bool          `yaml:"omitSKID"`
}

const profileDocs = "https://letsencrypt.org/docs/profiles#"

// DefaultProfiles returns Let's Encrypt's three profiles (reference §4.1).
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		"classic": {Description: profileDocs + "classic", PendingAuthzLifetime: 7 * 24 * time.Hour,
			ValidAuthzLifetime: 30 * 24 * time.Hour, OrderLifetime: 7 * 24 * time.Hour, MaxNames: 100,
			Validity: 90 * 24 * time.Hour},
		"tlsserver": {Description: profileDocs + "tlsserver", PendingAuthzLifetime: time.Hour,
			ValidAuthzLifetime: 7 * time.Hour, OrderLifetime: 8 * time.Hour, MaxNames: 25,
			Validity: 45 * 24 * time.Hour, OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
		"shortlived": {Description: profileDocs + "shortlived", PendingAuthzLifetime: time.Hour,
			ValidAuthzLifetime: 7 * time.Hour, OrderLifetime: 8 * time.Hour, MaxNames: 25, AllowIP: true,
			Validity: 160 * time.Hour, OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
	}
}

// DefaultConfig mirrors Let's Encrypt staging's directory and profiles.
func DefaultConfig() Config {
	return Config{
		Profiles:          DefaultProfiles(),
		DefaultProfile:    "classic",
		TermsOfService:    "https://letsencrypt.org/documents/LE-SA-v1.8-July-06-2026.pdf",
		Website:           "https://letsencrypt.org/docs/staging-environment/",
		CAAIdentities:     []string{"letsencrypt.org"},
		CRLValidity:       7 * 24 * time.Hour,
		AuthzReusePercent: 100,
		ValidationWorkers: 64,
		RetryAfterOrder:   3 * time.Second,
	}
}

// Validate reports the first bad field, named by its YAML path.
func (c Config) Validate() error {
	if len(c.Profiles) == 0 {
		return errors.New("ca.profiles: at least one profile is required")
	}
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := c.Profiles[n].validate("ca.profiles." + n); err != nil {
			return err
		}
	}
	if c.DefaultProfile != "" {
		if _, ok := c.Profiles[c.DefaultProfile]; !ok {
			return fmt.Errorf("ca.defaultProfile: %q is not a configured profile", c.DefaultProfile)
		}
	}
	if c.ExternalAccountRequired && len(c.EABKeys) == 0 {
		return errors.New("ca.eabKeys: externalAccountRequired needs at least one key")
	}
	for kid, k := range c.EABKeys {
		if b, err := b64Decode(k); err != nil || len(b) == 0 {
			return fmt.Errorf("ca.eabKeys.%s: must be a non-empty base64url HMAC key", kid)
		}
	}
	if c.CRLValidity <= 0 || c.CRLValidity >= pki.MaxCRLValidity {
		return fmt.Errorf("ca.crlValidity: %s must be > 0 and < %s", c.CRLValidity, pki.MaxCRLValidity)
	}
	if c.AuthzReusePercent < 0 || c.AuthzReusePercent > 100 {
		return fmt.Errorf("ca.authzReusePercent: %d is not between 0 and 100", c.AuthzReusePercent)
	}
	if c.RetryAfterOrder < 0 || c.RetryAfterAuthz < 0 {
		return errors.New("ca.retryAfterOrder, ca.retryAfterAuthz: must be >= 0")
	}
	if c.CRLPublishDelay < 0 {
		return errors.New("ca.crlPublishDelay: must be >= 0")
	}
	if c.OrdersPerPage < 0 {
		return fmt.Errorf("ca.ordersPerPage: %d must be >= 0", c.OrdersPerPage)
	}
	if _, err := pathsFor(c.Paths); err != nil {
		return err
	}
	if c.ValidationWorkers < 1 {
		return errors.New("ca.validationWorkers: must be > 0")
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("ca.%w", err)
	}
	return nil
}

func (p Profile) validate(path string) error {
	switch {
	case p.Validity <= 0:
		return fmt.Errorf("%s.validity: must be > 0", path)
	case p.PendingAuthzLifetime <= 0:
		return fmt.Errorf("%s.pendingAuthzLifetime: must be > 0", path)
	case p.ValidAuthzLifetime <= 0:
		return fmt.Errorf("%s.validAuthzLifetime: must be > 0", path)
	case p.OrderLifetime <= 0:
		return fmt.Errorf("%s.orderLifetime: must be > 0", path)
	case p.MaxNames < 1:
		return fmt.Errorf("%s.maxNames: must be > 0", path)
	}
	return nil
}

func (p Profile) certProfile(name string) pki.Profile {
	return pki.Profile{Name: name, Validity: p.Validity, Backdate: p.backdate(),
		OmitCommonName: p.OmitCommonName, OmitKeyEncipherment: p.OmitKeyEncipherment, OmitSKID: p.OmitSKID}
}

// backdate is how far notBefore lies before issuance: about an hour, as
// Boulder's 0.9 × maxValidityBackdate (1h5m in its test config), but at most
// a tenth of the validity, so a 5-minute profile does not issue
// certificates that are already expired (fakeca's choice: LE has no such
// profiles).
func (p Profile) backdate() time.Duration { return min(time.Hour, p.Validity/10) }

// Validator performs one challenge validation, and the CAA recheck at
// finalization; *challengeval.Validator is the real one.
type Validator interface {
	Validate(ctx context.Context, req challengeval.Request) error
	CheckCAA(ctx context.Context, ident acme.Identifier, wildcard bool, accountURI, method string) error
}

// Limiter enforces Let's Encrypt's rate limits at Boulder's points
// (reference §1.4); *ratelimit.Limiter is the real one. NewAccount and
// NewOrder return a refund to call when the account or order is not
// created; the other calls report errors for the log only.
type Limiter interface {
	NewAccount(ctx context.Context, ip netip.Addr) (refund func(), err error)
	NewOrder(ctx context.Context, req ratelimit.NewOrderRequest) (refund func(), err error)
	AuthzFailed(ctx context.Context, account int64, id acme.Identifier) error
	AuthzValid(ctx context.Context, account int64, id acme.Identifier) error
	Issued(ctx context.Context, account int64, idents []acme.Identifier) error
}

// Deps are the server's collaborators. All are required except Logger,
// Limiter (nil: no rate limits), Journal and Metrics.
type Deps struct {
	Clock     clock.PassiveClock
	Logger    *slog.Logger
	Store     store.Store
	PKI       *pki.Hierarchy
	Validator Validator
	Limiter   Limiter
	// Journal receives troubleshooting events; nil drops them.
	Journal Journal
	// Metrics receives the Prometheus metrics; nil records none.
	Metrics *Metrics
	// Faults injects configured failures; nil injects none.
	Faults Faults
}

var _ Limiter = (*ratelimit.Limiter)(nil)

var _ Validator = (*challengeval.Validator)(nil)
