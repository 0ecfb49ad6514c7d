package scenarios

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/client"
)

type handlers = map[string]func(*yaml.Node, string) error

func (p *parser) certificates(n *yaml.Node, path string, s *Scenario) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, path, "must be a list")
	}
	for i, cn := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		var c Certificate
		err := p.mapping(cn, f, handlers{
			"name":      func(n *yaml.Node, f string) error { return p.str(n, f, &c.Name) },
			"dnsNames":  func(n *yaml.Node, f string) error { return p.strs(n, f, &c.DNSNames) },
			"challenge": func(n *yaml.Node, f string) error { return p.str(n, f, &c.Challenge) },
			"profile":   func(n *yaml.Node, f string) error { return p.str(n, f, &c.Profile) },
			"duration":  func(n *yaml.Node, f string) error { return p.duration(n, f, &c.Duration) },
			"renewBefore": func(n *yaml.Node, f string) error {
				return p.duration(n, f, &c.Policy.RenewBefore)
			},
			"renewBeforePercentage": func(n *yaml.Node, f string) error {
				v, err := strconv.ParseInt(n.Value, 10, 32)
				if err != nil || v <= 0 || v >= 100 {
					return p.errf(n, f, "%q is not a percentage between 1 and 99", n.Value)
				}
				c.Policy.RenewBeforePercentage = int32(v)
				return nil
			},
			"useARI":         func(n *yaml.Node, f string) error { return p.boolean(n, f, &c.Policy.UseARI) },
			"minBackoff":     func(n *yaml.Node, f string) error { return p.duration(n, f, &c.Policy.MinBackoff) },
			"maxBackoff":     func(n *yaml.Node, f string) error { return p.duration(n, f, &c.Policy.MaxBackoff) },
			"attemptTimeout": func(n *yaml.Node, f string) error { return p.duration(n, f, &c.AttemptTimeout) },
		})
		if err != nil {
			return err
		}
		switch {
		case c.Name == "":
			return p.errf(cn, f+".name", "must be set")
		case len(c.DNSNames) == 0:
			return p.errf(cn, f+".dnsNames", "at least one name is required")
		case s.certificate(c.Name) != nil:
			return p.errf(cn, f+".name", "%q is already the name of another certificate", c.Name)
		}
		switch c.Challenge {
		case "":
			c.Challenge = client.ChallengeHTTP01
		case client.ChallengeHTTP01, client.ChallengeDNS01:
		default:
			return p.errf(cn, f+".challenge", "%q is not http-01 or dns-01", c.Challenge)
		}
		s.Certificates = append(s.Certificates, c)
	}
	return nil
}

// certificate returns the certificate named name, or nil.
func (s *Scenario) certificate(name string) *Certificate {
	for i := range s.Certificates {
		if s.Certificates[i].Name == name {
			return &s.Certificates[i]
		}
	}
	return nil
}

// stepKinds are the timeline step keys.
func stepKinds() []string {
	return []string{StepAdvance, StepBreak, StepClear, StepDelete, StepFix, StepIncident, StepInject, StepRestart, StepRevoke}
}

func (p *parser) timeline(n *yaml.Node, path string, s *Scenario) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, path, "must be a list")
	}
	for i, sn := range n.Content {
		f := fmt.Sprintf("%s[%d]", path, i)
		if sn.Kind != yaml.MappingNode || len(sn.Content) == 0 {
			return p.errf(sn, f, "must be a mapping with one of %v", stepKinds())
		}
		k, v := sn.Content[0], sn.Content[1]
		if len(sn.Content) > 2 && (k.Value != StepBreak || sn.Content[2].Value != "failure" || len(sn.Content) > 4) {
			extra := sn.Content[len(sn.Content)-2]
			if k.Value != StepBreak || sn.Content[2].Value != "failure" {
				extra = sn.Content[2]
			}
			return p.errf(extra, f+"."+extra.Value, "a step does one thing; move it to its own step")
		}
		st := Step{Line: k.Line, Kind: k.Value}
		if err := p.step(sn, k, v, f+"."+k.Value, &st, s); err != nil {
			return err
		}
		s.Timeline = append(s.Timeline, st)
	}
	return nil
}

func (p *parser) step(sn, k, v *yaml.Node, f string, st *Step, s *Scenario) error {
	certRef := func() error {
		if err := p.str(v, f, &st.Target); err != nil {
			return err
		}
		if s.certificate(st.Target) == nil {
			return p.errf(v, f, "no certificate named %q", st.Target)
		}
		return nil
	}
	switch k.Value {
	case StepAdvance:
		return p.duration(v, f, &st.Advance)
	case StepInject:
		r, err := p.rule(v, f)
		st.Rule = r
		return err
	case StepClear:
		return p.str(v, f, &st.Target)
	case StepRestart:
		return nil
	case StepFix, StepRevoke, StepIncident, StepDelete:
		return certRef()
	case StepBreak:
		if err := certRef(); err != nil {
			return err
		}
		if len(sn.Content) < 4 {
			return p.errf(k, f, "needs a failure (one of %v)", failureNames())
		}
		fv := sn.Content[3]
		st.Failure = fv.Value
		if _, _, ok := failure(st.Failure, ""); !ok {
			return p.errf(fv, f[:len(f)-len(".break")]+".failure", "unknown failure %q (want one of %v)", fv.Value, failureNames())
		}
		return nil
	}
	return p.errf(k, f, "unknown step (want one of %v)", stepKinds())
}

func (p *parser) expect(n *yaml.Node, path string, s *Scenario) error {
	return p.mapping(n, path, handlers{
		"accounts": func(n *yaml.Node, f string) error {
			s.Expect.AccountsLine = n.Line
			return p.integer(n, f, &s.Expect.Accounts)
		},
		"certificates": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.MappingNode {
				return p.errf(n, f, "must be a mapping from certificate name to checks")
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				cf := f + "." + k.Value
				if s.certificate(k.Value) == nil {
					return p.errf(k, cf, "no certificate named %q", k.Value)
				}
				ce := CertExpect{Line: k.Line, Name: k.Value}
				if err := p.certExpect(v, cf, &ce); err != nil {
					return err
				}
				s.Expect.Certificates = append(s.Expect.Certificates, ce)
			}
			return nil
		},
	})
}

func (p *parser) certExpect(n *yaml.Node, path string, ce *CertExpect) error {
	dur := func(out **time.Duration) func(*yaml.Node, string) error {
		return func(n *yaml.Node, f string) error {
			var d time.Duration
			if err := p.duration(n, f, &d); err != nil {
				return err
			}
			*out = &d
			return nil
		}
	}
	str := func(out **string) func(*yaml.Node, string) error {
		return func(n *yaml.Node, f string) error {
			var v string
			if err := p.str(n, f, &v); err != nil {
				return err
			}
			*out = &v
			return nil
		}
	}
	return p.mapping(n, path, handlers{
		"issuances":      func(n *yaml.Node, f string) error { return p.integer(n, f, &ce.Issuances) },
		"attempts":       func(n *yaml.Node, f string) error { return p.integer(n, f, &ce.Attempts) },
		"minAttempts":    func(n *yaml.Node, f string) error { return p.integer(n, f, &ce.MinAttempts) },
		"failedAttempts": func(n *yaml.Node, f string) error { return p.integer(n, f, &ce.FailedAttempts) },
		"ready": func(n *yaml.Node, f string) error {
			var b bool
			if err := p.boolean(n, f, &b); err != nil {
				return err
			}
			ce.Ready = &b
			return nil
		},
		"lastError": str(&ce.LastError),
		"profile":   str(&ce.Profile),
		"backoff":   dur(&ce.Backoff),
		"expiry":    dur(&ce.Expiry),
	})
}
