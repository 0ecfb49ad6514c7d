package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// maxHookOutput caps the hook output kept for error messages.
const maxHookOutput = 4096

// HookConfig configures the exec-hook Solver, which runs a program to
// present and clean up any challenge type (e.g. to update a DNS provider
// that has no RFC 2136 interface, or to copy a file into a web root).
//
// The program runs as
//
//	COMMAND ARGS... present|cleanup NAME VALUE
//
// where NAME and VALUE are, for dns-01, the record name
// ("_acme-challenge.example.org.") and TXT value (lego's exec provider
// uses the same arguments); for http-01 the token and key authorization;
// for tls-alpn-01 the identifier and key authorization. Everything is also
// in the environment: FAKECA_ACTION, FAKECA_CHALLENGE_TYPE,
// FAKECA_IDENTIFIER, FAKECA_WILDCARD, FAKECA_TOKEN, FAKECA_KEY_AUTH,
// FAKECA_DNS_NAME, FAKECA_DNS_VALUE. A non-zero exit fails the step with
// the program's output.
type HookConfig struct {
	// Command is the program (looked up in PATH). Required.
	Command string
	// Args come before the action.
	Args []string
	// Env is the environment the program starts from, before the FAKECA_*
	// variables are added. nil gives it only those; cmd/fakeca passes its
	// own environment.
	Env []string
	// Timeout bounds one run. Default 2 min.
	Timeout time.Duration
}

// HookDeps are the hook's collaborators; all optional.
type HookDeps struct {
	Logger *slog.Logger
}

// Hook is the exec-hook Solver. Safe for concurrent use.
type Hook struct {
	cfg HookConfig
	log *slog.Logger
}

var _ Solver = (*Hook)(nil)

// NewHook checks cfg and builds the solver.
func NewHook(cfg HookConfig, deps HookDeps) (*Hook, error) {
	if cfg.Command == "" {
		return nil, errors.New("hook: no command")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hook{cfg: cfg, log: log}, nil
}

// Present runs the hook with "present".
func (h *Hook) Present(ctx context.Context, ch Challenge) error { return h.run(ctx, "present", ch) }

// CleanUp runs the hook with "cleanup".
func (h *Hook) CleanUp(ctx context.Context, ch Challenge) error { return h.run(ctx, "cleanup", ch) }

func (h *Hook) run(ctx context.Context, action string, ch Challenge) error {
	name, value := ch.Token, ch.KeyAuth
	switch ch.Type {
	case ChallengeDNS01:
		name, value = ch.DNSName, ch.DNSValue
	case ChallengeTLSALPN01:
		name = ch.Identifier
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	args := append(append([]string{}, h.cfg.Args...), action, name, value)
	cmd := exec.CommandContext(ctx, h.cfg.Command, args...)
	cmd.Env = append(append([]string{}, h.cfg.Env...),
		"FAKECA_ACTION="+action, "FAKECA_CHALLENGE_TYPE="+ch.Type, "FAKECA_IDENTIFIER="+ch.Identifier,
		"FAKECA_WILDCARD="+strconv.FormatBool(ch.Wildcard), "FAKECA_TOKEN="+ch.Token,
		"FAKECA_KEY_AUTH="+ch.KeyAuth, "FAKECA_DNS_NAME="+ch.DNSName, "FAKECA_DNS_VALUE="+ch.DNSValue)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	h.log.Debug("hook ran", "action", action, "challenge", ch.Type, "identifier", ch.Identifier, "err", err)
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > maxHookOutput {
			msg = msg[:maxHookOutput] + "…"
		}
		return fmt.Errorf("hook %s %s: %w: %s", h.cfg.Command, action, err, msg)
	}
	return nil
}
