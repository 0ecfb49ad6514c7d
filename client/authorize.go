package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// Challenge is what a Solver needs to present one challenge.
type Challenge struct {
	// Type is http-01, dns-01 or tls-alpn-01.
	Type string
	// Identifier is the name or IP being validated, without "*.".
	Identifier string
	// Wildcard is set for the authorization of "*.Identifier".
	Wildcard bool
	// Token is the challenge token; KeyAuth the key authorization
	// (token.thumbprint) an http-01 responder serves.
	Token, KeyAuth string
	// DNSName is the dns-01 record name, "_acme-challenge.<identifier>."
	// and DNSValue the TXT value, base64url(SHA-256(KeyAuth)).
	DNSName, DNSValue string
}

// Solver presents and withdraws challenge responses. Implementations must
// be safe for concurrent use and honour ctx.
type Solver interface {
	// Present makes the response visible to the server.
	Present(ctx context.Context, ch Challenge) error
	// CleanUp withdraws it; called after validation whatever the outcome.
	CleanUp(ctx context.Context, ch Challenge) error
}

// authorize satisfies one authorization: nothing if it is already valid,
// else the preferred solvable challenge is presented, accepted, polled to
// a final status and cleaned up.
func (c *Client) authorize(ctx context.Context, url string, req Request) (err error) {
	start := c.clock.Now()
	step := Step{Name: "authorize", URL: url}
	defer func() {
		step.Err = err
		c.report(step, start)
	}()
	z, err := c.acme.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("authorization %s: %w", url, err)
	}
	step.Identifier = displayIdentifier(z)
	if z.Status == acme.StatusValid {
		step.Message = step.Identifier + " already authorized"
		return nil
	}
	if z.Status != acme.StatusPending {
		return fmt.Errorf("authorization for %s is %s", step.Identifier, z.Status)
	}
	chal, solver := pickChallenge(z, req)
	if chal == nil {
		return fmt.Errorf("%s: %w (offered: %s; configured: %s)", step.Identifier, ErrNoSolver,
			challengeTypes(z), strings.Join(req.Challenges, ", "))
	}
	ch, err := c.challengeFor(z, chal)
	if err != nil {
		return err
	}
	if err := solver.Present(ctx, ch); err != nil {
		return fmt.Errorf("presenting %s for %s: %w", ch.Type, step.Identifier, err)
	}
	defer func() {
		if cerr := solver.CleanUp(context.WithoutCancel(ctx), ch); cerr != nil {
			c.log.Warn("challenge clean-up failed", "identifier", step.Identifier, "challenge", ch.Type, "err", cerr)
		}
	}()
	if _, err := c.acme.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accepting %s for %s: %w", ch.Type, step.Identifier, err)
	}
	if err := c.waitAuthz(ctx, url); err != nil {
		return err
	}
	step.Message = fmt.Sprintf("%s validated (%s)", step.Identifier, ch.Type)
	return nil
}

// pickChallenge returns the first challenge type of req.Challenges that z
// offers and req.Solvers can solve.
func pickChallenge(z *acme.Authorization, req Request) (*acme.Challenge, Solver) {
	for _, typ := range req.Challenges {
		s := req.Solvers[typ]
		if s == nil {
			continue
		}
		for _, ch := range z.Challenges {
			if ch.Type == typ {
				return ch, s
			}
		}
	}
	return nil, nil
}

func challengeTypes(z *acme.Authorization) string {
	var ts []string
	for _, ch := range z.Challenges {
		ts = append(ts, ch.Type)
	}
	return strings.Join(ts, ", ")
}

func displayIdentifier(z *acme.Authorization) string {
	if z.Wildcard {
		return "*." + z.Identifier.Value
	}
	return z.Identifier.Value
}

// challengeFor computes the responses to one challenge.
func (c *Client) challengeFor(z *acme.Authorization, chal *acme.Challenge) (Challenge, error) {
	ka, err := c.KeyAuthorization(chal.Token)
	if err != nil {
		return Challenge{}, err
	}
	sum := sha256.Sum256([]byte(ka))
	id := strings.TrimPrefix(z.Identifier.Value, "*.")
	return Challenge{Type: chal.Type, Identifier: id, Wildcard: z.Wildcard, Token: chal.Token, KeyAuth: ka,
		DNSName: "_acme-challenge." + strings.TrimSuffix(id, ".") + ".", DNSValue: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}
