package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

// Scenario is one parsed scenario file. Plain data; Parse builds it.
type Scenario struct {
	// Name identifies the scenario (the library file's base name). Required.
	Name string
	// Description is the paragraph explaining cause, symptom and fix.
	Description string
	// File is where the scenario came from, used in error messages.
	File         string
	Server       Server
	Certificates []Certificate
	Timeline     []Step
	Expect       Expect
}

// Server is the CA's setup.
type Server struct {
	// Profiles are added to (or replace) Let's Encrypt's classic,
	// tlsserver and shortlived profiles.
	Profiles       map[string]ca.Profile
	DefaultProfile string
	// AllowNotAfter accepts notAfter in new-order; Let's Encrypt refuses it.
	AllowNotAfter bool
	// RateLimits default to the letsencrypt-production preset.
	RateLimits ratelimit.Config
	Faults     []faults.Rule
}

// Certificate is one certificate under management, cert-manager style.
type Certificate struct {
	Name     string
	DNSNames []string
	// Challenge is http-01 (default) or dns-01.
	Challenge string
	Profile   string
	// Duration, if set, is sent as notAfter (now + duration) in new-order,
	// as cert-manager does with enableDurationFeature.
	Duration time.Duration
	Policy   policyFields
	// AttemptTimeout bounds one issuance attempt on the fake clock
	// (default 15m); an order that never finishes fails with cert-manager's
	// "Waiting on certificate issuance" text.
	AttemptTimeout time.Duration
}

// policyFields are the YAML renewal settings (client.Policy).
type policyFields struct {
	RenewBefore           time.Duration
	RenewBeforePercentage int32
	UseARI                bool
	MinBackoff            time.Duration
	MaxBackoff            time.Duration
}

// Step kinds.
const (
	StepAdvance  = "advance"
	StepInject   = "inject"
	StepClear    = "clear"
	StepBreak    = "break"
	StepFix      = "fix"
	StepRestart  = "restart"
	StepRevoke   = "revoke"
	StepIncident = "incident"
	StepDelete   = "deleteSecret"
)

// Step is one timeline entry: exactly one of its kinds.
type Step struct {
	Line    int
	Kind    string
	Advance time.Duration
	// Rule is the fault of inject.
	Rule faults.Rule
	// Target is the fault name of clear, or the certificate of fix,
	// revoke, incident and deleteSecret, or of break.
	Target string
	// Failure is break's failure mode (see failures).
	Failure string
}

// Expect are the checks run after the timeline.
type Expect struct {
	// Accounts is how many accounts the manager registered in total.
	Accounts     *int
	AccountsLine int
	Certificates []CertExpect
}

// CertExpect are one certificate's checks; nil fields are not checked.
type CertExpect struct {
	Line      int
	Name      string
	Issuances *int
	// Attempts counts every issuance attempt, failed or not.
	Attempts *int
	// MinAttempts is a lower bound on Attempts.
	MinAttempts *int
	// FailedAttempts is the current run of consecutive failures
	// (status.failedIssuanceAttempts).
	FailedAttempts *int
	// Ready: a certificate exists and has not expired at the end.
	Ready *bool
	// LastError must be a substring of the last failure the user sees.
	LastError *string
	// Backoff is the current wait after the failures.
	Backoff *time.Duration
	// Expiry is the certificate's notAfter minus the scenario's start,
	// rounded to the minute.
	Expiry *time.Duration
	// Profile is the profile the server echoed for the current certificate.
	Profile *string
}

// fileError is a parse error pinned to a line.
type fileError struct {
	file  string
	line  int
	field string
	msg   string
}

func (e *fileError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.field, e.msg)
}

// parser walks the YAML tree, keeping the file name for errors.
type parser struct{ file string }

func (p *parser) errf(n *yaml.Node, field, format string, args ...any) error {
	return &fileError{file: p.file, line: n.Line, field: field, msg: fmt.Sprintf(format, args...)}
}

// Parse reads one scenario file; file names it in errors, which look like
// `bad.yaml:12: timeline[3].advance: "2x" is not a duration`.
func Parse(file string, data []byte) (*Scenario, error) {
	p := &parser{file: file}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &fileError{file: file, line: max(doc.Line, 1), msg: "a scenario must be a mapping"}
	}
	s := &Scenario{File: file}
	err := p.mapping(doc.Content[0], "", map[string]func(*yaml.Node, string) error{
		"name":         func(n *yaml.Node, f string) error { return p.str(n, f, &s.Name) },
		"description":  func(n *yaml.Node, f string) error { return p.str(n, f, &s.Description) },
		"server":       func(n *yaml.Node, f string) error { return p.server(n, f, &s.Server) },
		"certificates": func(n *yaml.Node, f string) error { return p.certificates(n, f, s) },
		"timeline":     func(n *yaml.Node, f string) error { return p.timeline(n, f, s) },
		"expect":       func(n *yaml.Node, f string) error { return p.expect(n, f, s) },
	})
	if err != nil {
		return nil, err
	}
	root := doc.Content[0]
	if s.Name == "" {
		return nil, p.errf(root, "name", "must be set")
	}
	if strings.TrimSpace(s.Description) == "" {
		return nil, p.errf(root, "description", "must be set (cause, symptom and fix)")
	}
	if len(s.Certificates) == 0 {
		return nil, p.errf(root, "certificates", "at least one certificate is required")
	}
	return s, nil
}

// mapping calls the handler of each key of n, rejecting unknown and
// duplicate keys.
func (p *parser) mapping(n *yaml.Node, path string, fields map[string]func(*yaml.Node, string) error) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, strings.TrimPrefix(path, "."), "must be a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := strings.TrimPrefix(path+"."+k.Value, ".")
		h, ok := fields[k.Value]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			slices.Sort(known)
			return p.errf(k, f, "unknown field (want one of %s)", strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return p.errf(k, f, "given twice")
		}
		seen[k.Value] = true
		if err := h(v, f); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) str(n *yaml.Node, f string, out *string) error {
	if n.Kind != yaml.ScalarNode {
		return p.errf(n, f, "must be a string")
	}
	*out = n.Value
	return nil
}

func (p *parser) strs(n *yaml.Node, f string, out *[]string) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, f, "must be a list")
	}
	for i, c := range n.Content {
		var s string
		if err := p.str(c, fmt.Sprintf("%s[%d]", f, i), &s); err != nil {
			return err
		}
		*out = append(*out, s)
	}
	return nil
}

func (p *parser) boolean(n *yaml.Node, f string, out *bool) error {
	b, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return p.errf(n, f, "%q is not true or false", n.Value)
	}
	*out = b
	return nil
}

func (p *parser) integer(n *yaml.Node, f string, out **int) error {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		return p.errf(n, f, "%q is not a non-negative integer", n.Value)
	}
	*out = &v
	return nil
}

// duration reads a Go duration, also accepting whole days ("7d").
func (p *parser) duration(n *yaml.Node, f string, out *time.Duration) error {
	d, err := parseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return p.errf(n, f, "%q is not a duration", n.Value)
	}
	if d < 0 {
		return p.errf(n, f, "must not be negative, got %s", n.Value)
	}
	*out = d
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (p *parser) server(n *yaml.Node, path string, s *Server) error {
	return p.mapping(n, path, map[string]func(*yaml.Node, string) error{
		"defaultProfile": func(n *yaml.Node, f string) error { return p.str(n, f, &s.DefaultProfile) },
		"allowNotAfter":  func(n *yaml.Node, f string) error { return p.boolean(n, f, &s.AllowNotAfter) },
		"profiles": func(n *yaml.Node, f string) error {
			if err := n.Decode(&s.Profiles); err != nil {
				return p.errf(n, f, "%s", yamlMessage(err))
			}
			return nil
		},
		"rateLimits": func(n *yaml.Node, f string) error {
			if err := n.Decode(&s.RateLimits); err != nil {
				return p.errf(n, f, "%s", yamlMessage(err))
			}
			if err := s.RateLimits.Validate(); err != nil {
				return p.errf(n, f, "%s", strings.ReplaceAll(err.Error(), "rateLimits.", f+"."))
			}
			return nil
		},
		"faults": func(n *yaml.Node, f string) error {
			if n.Kind != yaml.SequenceNode {
				return p.errf(n, f, "must be a list of fault rules")
			}
			for i, c := range n.Content {
				r, err := p.rule(c, fmt.Sprintf("%s[%d]", f, i))
				if err != nil {
					return err
				}
				s.Faults = append(s.Faults, r)
			}
			return nil
		},
	})
}

// rule decodes and validates one fault rule.
func (p *parser) rule(n *yaml.Node, f string) (faults.Rule, error) {
	var r faults.Rule
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return r, p.errf(n, f, "%v", err)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		l, msg := yamlLine(err)
		return r, &fileError{file: p.file, line: n.Line + max(l-1, 0), field: f, msg: msg}
	}
	if err := (faults.Config{Rules: []faults.Rule{r}}).Validate(); err != nil {
		return r, p.errf(n, f, "%s", strings.ReplaceAll(err.Error(), "faults.rules[0].", ""))
	}
	return r, nil
}

// yamlMessage drops the "yaml: " prefix and line numbers relative to a
// sub-document.
func yamlMessage(err error) string {
	_, msg := yamlLine(err)
	return msg
}

// yamlLine splits a decoding error into its (first) relative line, 0 if
// none, and its message without "yaml: " and "line N: ".
func yamlLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil {
				line, msg = l, tail
			}
		}
	}
	return line, msg
}
