package faults

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/internal/yamltest"
)

// validateCase is a Config and the problems Validate must report, one line
// each (none: valid).
type validateCase struct {
	name string
	cfg  Config
	want []string
}

func runValidate(t *testing.T, tests []validateCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lines(tt.cfg.Validate())
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// oneRule is a config of one rule, "r".
func oneRule(m Match, a Action) Config {
	return Config{Rules: []Rule{{Name: "r", Match: m, Action: a}}}
}

func TestConfigValidateMatch(t *testing.T) {
	ok := problem500()
	runValidate(t, []validateCase{
		{name: "zero value"},
		{name: "every kind of rule", cfg: Config{Rules: []Rule{
			{Name: "a.b_c-1", Match: Match{Operation: OpNewOrder, Operations: []Operation{OpOrder}, Method: "post",
				Identifier: "*.x.test", Account: 1, Profile: "p", Nth: 2, Max: 1, Probability: 0.5, Seed: 9,
				Window: &Window{From: t0, To: t0.Add(time.Hour)}}, Action: Action{Problem: &Problem{Type: "rateLimited", Status: 503}, RetryAfter: time.Second, Delay: time.Second}},
			{Name: "b", Match: Match{Window: &Window{After: time.Hour, For: time.Minute}}, Action: Action{HTTP: &HTTPResponse{Status: 502, ContentType: "text/html"}}},
			{Name: "c", Action: Action{Drop: true}},
			{Name: "d", Action: Action{Reset: true, Jitter: time.Second}},
			{Name: "e", Action: Action{BadNonce: true}},
			{Name: "f", Action: Action{MalformedJSON: true, ContentType: "text/html; charset=utf-8"}},
			{Name: "g", Match: Match{Operation: OpOrder}, Action: Action{Stuck: acme.StatusPending}},
			{Name: "h", Match: Match{Operations: []Operation{OpFinalize, OpIssuance}}, Action: Action{Stuck: acme.StatusProcessing, Delay: time.Second}},
			{Name: "i", Match: Match{Operation: OpValidation}, Action: Action{Validation: acme.StatusInvalid, Problem: &Problem{Type: acme.DNS}, ValidationDelay: time.Second}},
			{Name: "j", Match: Match{Operation: OpValidation}, Action: Action{Validation: acme.StatusValid}},
			{Name: "k", Match: Match{Operation: OpIssuance}, Action: ok},
		}}},
		{name: "names", cfg: Config{Rules: []Rule{{Action: ok}, {Name: "-x", Action: ok}, {Name: "a/b", Action: ok},
			{Name: strings.Repeat("a", 65), Action: ok}, {Name: "dup", Action: ok}, {Name: "dup", Action: ok}}}, want: []string{
			`faults.rules[0].name: must be set`,
			`faults.rules[1].name: "-x" must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`faults.rules[2].name: "a/b" must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`faults.rules[3].name: "` + strings.Repeat("a", 65) + `" must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`faults.rules[5].name: "dup" is already the name of faults.rules[4]`,
		}},
		{name: "match fields", cfg: oneRule(Match{Operation: "new-ordr", Operations: []Operation{OpOrder, "x"}, Method: "PUT",
			Identifier: "[a", Account: -1, Nth: -1, Every: -2, Max: -3, Probability: 1.5}, ok), want: []string{
			`faults.rules[0].match.operation: unknown operation "new-ordr" (want one of directory, new-nonce, new-account, account, new-order, order, authz, challenge, finalize, certificate, revoke, key-change, renewal-info, list-orders, validation, issuance)`,
			`faults.rules[0].match.operations[1]: unknown operation "x" (want one of directory, new-nonce, new-account, account, new-order, order, authz, challenge, finalize, certificate, revoke, key-change, renewal-info, list-orders, validation, issuance)`,
			`faults.rules[0].match.method: "PUT" is not GET, HEAD or POST`,
			`faults.rules[0].match.identifier: "[a" is not a valid glob: syntax error in pattern`,
			`faults.rules[0].match.account: must be > 0, got -1`,
			`faults.rules[0].match.nth: must not be negative, got -1`,
			`faults.rules[0].match.every: must not be negative, got -2`,
			`faults.rules[0].match.max: must not be negative, got -3`,
			`faults.rules[0].match.probability: must be between 0 and 1, got 1.5`,
		}},
		{name: "nth with every, seed alone", cfg: oneRule(Match{Nth: 1, Every: 2, Seed: 3}, ok), want: []string{
			`faults.rules[0].match.every: cannot be combined with nth`,
			`faults.rules[0].match.seed: is only used with probability or action.jitter`,
		}},
		{name: "window mixed", cfg: oneRule(Match{Window: &Window{From: t0, For: time.Hour}}, ok), want: []string{
			`faults.rules[0].match.window: use either from/to or after/for, not both`}},
		{name: "window empty", cfg: oneRule(Match{Window: &Window{}}, ok), want: []string{
			`faults.rules[0].match.window: must set from, to, after or for`}},
		{name: "window backwards", cfg: oneRule(Match{Window: &Window{From: t0, To: t0}}, ok), want: []string{
			`faults.rules[0].match.window.to: 2026-03-01T12:00:00Z is not after from (2026-03-01T12:00:00Z)`}},
		{name: "window negative", cfg: oneRule(Match{Window: &Window{After: -time.Second}}, ok), want: []string{
			`faults.rules[0].match.window.after: must not be negative, got -1s`}},
	})
}

func TestConfigValidateAction(t *testing.T) {
	ok := problem500()
	runValidate(t, []validateCase{
		{name: "no action", cfg: oneRule(Match{}, Action{}), want: []string{
			`faults.rules[0].action: must do something (problem, http, delay, drop, reset, badNonce, malformedJSON, contentType, stuck, validation or validationDelay)`}},
		{name: "two answers", cfg: oneRule(Match{}, Action{Problem: ok.Problem, Drop: true, BadNonce: true}), want: []string{
			`faults.rules[0].action: problem, drop, badNonce each answer the request; choose one`}},
		{name: "bad values", cfg: oneRule(Match{}, Action{Problem: &Problem{Type: "oops", Status: 200}, RetryAfter: -time.Second,
			Delay: -1, ContentType: "a b"}), want: []string{
			`faults.rules[0].action.retryAfter: must not be negative, got -1s`,
			`faults.rules[0].action.delay: must not be negative, got -1ns`,
			`faults.rules[0].action.problem.type: unknown ACME problem type "oops" (e.g. serverInternal, rateLimited, badNonce)`,
			`faults.rules[0].action.problem.status: must be 400–599, got 200`,
			`faults.rules[0].action.contentType: "a b" is not a media type: mime: expected slash after first token`,
		}},
		{name: "bad http", cfg: oneRule(Match{}, Action{HTTP: &HTTPResponse{Status: 600, ContentType: "/"}}), want: []string{
			`faults.rules[0].action.http.status: must be 100–599, got 600`,
			`faults.rules[0].action.http.contentType: "/" is not a media type: mime: no media type`,
		}},
		{name: "retryAfter alone", cfg: oneRule(Match{}, Action{RetryAfter: time.Second}), want: []string{
			`faults.rules[0].action.retryAfter: needs problem or http`}},
		{name: "badNonce on GET", cfg: oneRule(Match{Method: "GET"}, Action{BadNonce: true}), want: []string{
			`faults.rules[0].action.badNonce: only POST requests carry a nonce, but match.method is GET`}},
		{name: "validation effects need the operation", cfg: oneRule(Match{}, Action{Validation: acme.StatusValid, ValidationDelay: time.Second}), want: []string{
			`faults.rules[0].action.validation: needs match.operation: validation`,
			`faults.rules[0].action.validationDelay: needs match.operation: validation`}},
		{name: "request effects at validation", cfg: oneRule(Match{Operation: OpValidation}, Action{Drop: true, Delay: time.Second}), want: []string{
			`faults.rules[0].action.delay: means nothing at operation validation`,
			`faults.rules[0].action.drop: means nothing at operation validation`}},
		{name: "validation effects at a request", cfg: oneRule(Match{Operations: []Operation{OpChallenge, OpIssuance}}, Action{ValidationDelay: time.Second}), want: []string{
			`faults.rules[0].action.validationDelay: means nothing at operation challenge`,
			`faults.rules[0].action.validationDelay: means nothing at operation issuance`}},
		{name: "bad enums", cfg: oneRule(Match{Operation: OpValidation}, Action{Validation: "pending"}), want: []string{
			`faults.rules[0].action.validation: "pending" is not valid or invalid`}},
		{name: "valid with problem", cfg: oneRule(Match{Operation: OpValidation}, Action{Validation: acme.StatusValid, Problem: ok.Problem}), want: []string{
			`faults.rules[0].action.validation: valid cannot be combined with problem`}},
		{name: "stuck without operation", cfg: oneRule(Match{}, Action{Stuck: acme.StatusReady}), want: []string{
			`faults.rules[0].action.stuck: needs match.operation (finalize)`}},
		{name: "stuck in the wrong place", cfg: oneRule(Match{Operations: []Operation{OpOrder, OpFinalize}}, Action{Stuck: acme.StatusReady}), want: []string{
			`faults.rules[0].action.stuck: an order cannot be kept ready at operation order (only at finalize)`}},
		{name: "stuck unknown", cfg: oneRule(Match{Operation: OpOrder}, Action{Stuck: acme.StatusValid}), want: []string{
			`faults.rules[0].action.stuck: "valid" is not pending, ready or processing`}},
		{name: "stuck with an answer", cfg: oneRule(Match{Operation: OpOrder}, Action{Stuck: acme.StatusPending, Reset: true}), want: []string{
			`faults.rules[0].action.stuck: cannot be combined with reset: the order is never looked at`}},
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := New(Config{Rules: []Rule{{Name: "x"}}}, Deps{Clock: nil})
	if err == nil || err.Error() != "faults.New: Clock is required" {
		t.Errorf("no clock: %v", err)
	}
	_, clk := newEngine(t)
	if _, err := New(Config{Rules: []Rule{{Name: "x"}}}, Deps{Clock: clk}); err == nil ||
		!strings.HasPrefix(err.Error(), "faults.rules[0].action: must do something") {
		t.Errorf("bad rule: %v", err)
	}
}

// decodeConfig decodes YAML strictly, as cmd/fakeca does.
func decodeConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestConfigYAML(t *testing.T) {
	const doc = `
rules:
  - name: flaky-new-order
    match: {operation: new-order, identifier: "*.flaky.test", probability: 0.3, seed: 42, max: 10}
    action: {problem: {type: serverInternal, detail: "The service is down for maintenance", status: 503}, retryAfter: 30s}
  - name: slow-validation
    match: {operation: validation, identifier: "*.slow.test"}
    action: {validationDelay: 20s}
  - name: maintenance
    match: {window: {from: 2026-03-01T12:00:00Z, to: 2026-03-01T13:00:00Z}}
    action: {http: {status: 503, body: "<h1>down</h1>", contentType: text/html}}
`
	cfg, err := decodeConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Rules: []Rule{
		{Name: "flaky-new-order", Match: Match{Operation: OpNewOrder, Identifier: "*.flaky.test", Probability: 0.3, Seed: 42, Max: 10},
			Action: Action{Problem: &Problem{Type: acme.ServerInternal, Detail: "The service is down for maintenance", Status: 503}, RetryAfter: 30 * time.Second}},
		{Name: "slow-validation", Match: Match{Operation: OpValidation, Identifier: "*.slow.test"}, Action: Action{ValidationDelay: 20 * time.Second}},
		{Name: "maintenance", Match: Match{Window: &Window{From: t0, To: t0.Add(time.Hour)}},
			Action: Action{HTTP: &HTTPResponse{Status: 503, Body: "<h1>down</h1>", ContentType: "text/html"}}},
	}}
	if !equalYAML(t, cfg, want) {
		t.Errorf("decoded %+v", cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := decodeConfig(out)
	if err != nil || !equalYAML(t, again, want) {
		t.Errorf("round trip: %v\n%s", err, out)
	}
}

// equalYAML compares two configs by their YAML.
func equalYAML(t *testing.T, a, b Config) bool {
	t.Helper()
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(x, y)
}

// TestBadConfigFiles loads each testdata/bad_*.yaml strictly, as cmd/fakeca
// does, and expects the error named on its "# want:" first line.
func TestBadConfigFiles(t *testing.T) {
	yamltest.BadFiles(t, "testdata", func(data []byte) error {
		_, err := decodeConfig(data)
		return err
	})
}
