package challengeval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/acme"
)

// Texts for requests the CA should never make; Boulder's wording.
const (
	unknownChallengeFormat = "invalid challenge type %s"
)

// Deps are the Validator's collaborators. The zero value is invalid: Clock is
// required.
type Deps struct {
	// Clock times validation attempts for the logs, runs Config.Delay's
	// timers and dates dns-persist-01's persistUntil check. Required; a fake
	// clock drives the delays in tests and the simulator.
	Clock clock.Clock
	// Logger receives one debug line per attempt with the underlying cause of
	// a failure. Nil means discard.
	Logger *slog.Logger
}

// Request is one validation attempt. Values are plain data; the zero value
// is not a meaningful request (Validate reports it as malformed).
type Request struct {
	// Type is one of the acme.Challenge* types.
	Type string
	// Identifier is of type dns or ip: the authorization's identifier, a
	// wildcard's without "*." (a leading "*." is accepted and means
	// Wildcard).
	Identifier acme.Identifier
	// Wildcard marks an authorization for "*.<Identifier>": CAA then applies
	// issuewild and dns-persist-01 requires policy=wildcard.
	Wildcard bool
	// Token is the challenge token (http-01 path).
	Token string
	// KeyAuthorization is token + "." + base64url(JWK thumbprint).
	KeyAuthorization string
	// AccountURI is the requesting account's URL as the directory serves it
	// ("https://host/acme/acct/<id>"). Required for dns-account-01 (its
	// label) and dns-persist-01 (accounturi); matched against CAA
	// accounturi parameters. Empty never matches an accounturi.
	AccountURI string
}

// Validator performs challenge validations and CAA checks. Build it with
// New; the zero value is not usable. A Validator holds no mutable state and
// is safe for concurrent use; it starts goroutines only inside a call and
// waits for them before the call returns.
type Validator struct {
	cfg       Config
	clock     clock.Clock
	log       *slog.Logger
	resolver  *resolver
	overrides overrides
	rules     rules
}

// New checks cfg, applies its defaults and returns a Validator. Resolvers
// are required unless cfg.AlwaysValid is set or cfg.Forward lists a zone
// (look-ups then fail at use); see SystemResolvers for the system's. It
// starts no goroutines.
func New(cfg Config, deps Deps) (*Validator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		return nil, errors.New("challengeval: Deps.Clock is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if len(cfg.Resolvers) == 0 && len(cfg.Forward) == 0 && !cfg.AlwaysValid {
		return nil, fmt.Errorf("%s.resolvers: at least one resolver is required", configPath)
	}
	return &Validator{
		cfg:   cfg,
		clock: deps.Clock,
		log:   deps.Logger,
		resolver: &resolver{servers: cfg.Resolvers, forwards: compileForwards(cfg.Forward),
			timeout: cfg.LookupTimeout},
		overrides: compileOverrides(cfg.HostOverrides),
		rules:     compileRules(cfg),
	}, nil
}

// Validate performs one validation attempt: it waits the configured delay
// on the injected clock, then (unless AlwaysValid applies to the
// identifier) validates the challenge and, for a DNS identifier, checks
// CAA. It returns nil on success and otherwise an *acme.Error whose Type and
// Detail are what Boulder would report (see reference/letsencrypt.md §7).
// A canceled ctx ends the delay early with a connection error. Safe for
// concurrent use.
func (v *Validator) Validate(ctx context.Context, req Request) error {
	b := v.rules.forIdentifier(req.Identifier)
	if err := v.wait(ctx, b.delay.pick()); err != nil {
		v.log.DebugContext(ctx, "validation delay cut short", "identifier", req.Identifier.String(), "cause", err.Error())
		return acme.New(acme.Connection, detailGeneric)
	}
	if b.alwaysValid {
		return nil
	}
	if req.Type == acme.ChallengeDNSAccount01 && req.AccountURI == "" {
		return acme.New(acme.ServerInternal, noAccountURI)
	}
	start := v.clock.Now()
	err := v.validate(ctx, req)
	if err == nil {
		err = v.CheckCAA(ctx, req.Identifier, req.Wildcard, req.AccountURI, req.Type)
	}
	if err == nil {
		v.log.DebugContext(ctx, "challenge valid", "type", req.Type,
			"identifier", req.Identifier.String(), "duration", v.clock.Since(start))
		return nil
	}
	p := describe(err)
	v.log.DebugContext(ctx, "challenge invalid", "type", req.Type,
		"identifier", req.Identifier.String(), "problem", p.Error(), "cause", err.Error(),
		"duration", v.clock.Since(start))
	return p
}

func (v *Validator) validate(ctx context.Context, req Request) error {
	wildcard := req.Wildcard || req.Identifier.IsWildcard()
	switch req.Type {
	case acme.ChallengeHTTP01:
		return v.validateHTTP01(ctx, req.Identifier, req.Token, req.KeyAuthorization)
	case acme.ChallengeDNS01:
		return v.validateDNS01(ctx, req.Identifier, req.KeyAuthorization)
	case acme.ChallengeTLSALPN01:
		return v.validateTLSALPN01(ctx, req.Identifier, req.KeyAuthorization)
	case acme.ChallengeDNSAccount01:
		return v.validateDNSAccount01(ctx, req.Identifier, req.AccountURI, req.KeyAuthorization)
	case acme.ChallengeDNSPersist01:
		return v.validateDNSPersist01(ctx, req.Identifier, req.AccountURI, wildcard)
	}
	return acme.New(acme.Malformed, unknownChallengeFormat, req.Type)
}
