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
	// Clock times validation attempts for the logs. Required.
	Clock clock.PassiveClock
	// Logger receives one debug line per attempt with the underlying cause of
	// a failure. Nil means discard.
	Logger *slog.Logger
}

// Request is one validation attempt. Values are plain data; the zero value
// is not a meaningful request (Validate reports it as malformed).
type Request struct {
	// Type is acme.ChallengeHTTP01, acme.ChallengeDNS01 or
	// acme.ChallengeTLSALPN01.
	Type string
	// Identifier is of type dns or ip. A leading "*." is stripped for dns-01;
	// the CA should never send one.
	Identifier acme.Identifier
	// Token is the challenge token (http-01 path).
	Token string
	// KeyAuthorization is token + "." + base64url(JWK thumbprint).
	KeyAuthorization string
}

// Validator performs challenge validations. Build it with New; the zero
// value is not usable. A Validator holds no mutable state and is safe for
// concurrent use; it starts goroutines only inside a call and waits for them
// before the call returns.
type Validator struct {
	cfg       Config
	clock     clock.PassiveClock
	log       *slog.Logger
	resolver  *resolver
	overrides overrides
}

// New checks cfg, applies its defaults and returns a Validator. Resolvers
// are required unless cfg.AlwaysValid is set (look-ups then fail at use);
// see SystemResolvers for the system's. It starts no goroutines.
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
	servers := cfg.Resolvers
	if len(servers) == 0 && !cfg.AlwaysValid {
		return nil, fmt.Errorf("%s.resolvers: at least one resolver is required", configPath)
	}
	return &Validator{
		cfg:       cfg,
		clock:     deps.Clock,
		log:       deps.Logger,
		resolver:  &resolver{servers: servers, timeout: cfg.LookupTimeout},
		overrides: compileOverrides(cfg.HostOverrides),
	}, nil
}

// Validate performs one validation attempt. It returns nil on success and
// otherwise an *acme.Error whose Type and Detail are what Boulder would
// report (see reference/letsencrypt.md §7). With Config.AlwaysValid it
// returns nil at once without any network access. Safe for concurrent use.
func (v *Validator) Validate(ctx context.Context, req Request) error {
	if v.cfg.AlwaysValid {
		return nil
	}
	start := v.clock.Now()
	err := v.validate(ctx, req)
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
	switch req.Type {
	case acme.ChallengeHTTP01:
		return v.validateHTTP01(ctx, req.Identifier, req.Token, req.KeyAuthorization)
	case acme.ChallengeDNS01:
		return v.validateDNS01(ctx, req.Identifier, req.KeyAuthorization)
	case acme.ChallengeTLSALPN01:
		return v.validateTLSALPN01(ctx, req.Identifier, req.KeyAuthorization)
	}
	return acme.New(acme.Malformed, unknownChallengeFormat, req.Type)
}
