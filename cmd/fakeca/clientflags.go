package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/client"
	"github.com/fakeca/fakeca/client/e2e"
)

// defaultDirectory is fakeca serve's ACME directory with its defaults.
const defaultDirectory = "https://127.0.0.1:14000/directory"

// clientFlags are the flags every client command (issue, renew, revoke,
// account) shares.
type clientFlags struct {
	server     string
	caBundle   string
	accountKey string
	email      []string
	json       bool
	verbose    bool
	timeout    time.Duration
	poll       time.Duration
	pollMax    time.Duration
}

func (f *clientFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.server, "server", defaultDirectory, "ACME directory URL (fakeca, Pebble, Let's Encrypt staging, …)")
	fl.StringVar(&f.caBundle, "ca-bundle", "", "PEM file of roots for the server's TLS certificate (default: the system roots; fakeca serve writes its bundle.pem)")
	fl.StringVar(&f.accountKey, "account-key", "", "account key file, created if missing (default: <user config dir>/fakeca/accounts/<server host>/account.key)")
	fl.StringArrayVar(&f.email, "email", nil, "contact email for a new account (repeatable)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per step and a final result object on stdout")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "debug logs on stderr")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up after this long")
	fl.DurationVar(&f.poll, "poll-interval", client.DefaultPollInterval, "wait between polls of a pending authorization or order when the server sends no Retry-After")
	fl.DurationVar(&f.pollMax, "poll-max", client.DefaultMaxPollInterval, "longest wait between polls, even if the server's Retry-After is longer")
}

// readRoots reads a PEM bundle (flag names it in errors); an empty path
// is nil, the system roots.
func readRoots(path, flag string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	pool, err := poolFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return pool, nil
}

// poolFromPEM makes a pool of every PEM certificate in data.
func poolFromPEM(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificates")
	}
	return pool, nil
}

// accountKeyPath is --account-key or the per-server default.
func (f *clientFlags) accountKeyPath() (string, error) {
	if f.accountKey != "" {
		return f.accountKey, nil
	}
	u, err := url.Parse(f.server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--server: %q is not a URL", f.server)
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("--account-key not given and %w", err)
	}
	return filepath.Join(dir, "fakeca", "accounts", strings.ReplaceAll(u.Host, ":", "_"), "account.key"), nil
}

// loadAccountKey reads the account key; with create, a missing file gets
// a new ECDSA P-256 key (0600).
func (f *clientFlags) loadAccountKey(create bool) (crypto.Signer, string, error) {
	path, err := f.accountKeyPath()
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := client.ParseKey(data)
		if err != nil {
			return nil, "", fmt.Errorf("--account-key %s: %w", path, err)
		}
		return key, path, nil
	case !errors.Is(err, os.ErrNotExist) || !create:
		return nil, "", fmt.Errorf("--account-key: %w", err)
	}
	key, err := client.NewKey(client.KeyECDSAP256)
	if err != nil {
		return nil, "", err
	}
	if err := writeKeyFile(path, key); err != nil {
		return nil, "", fmt.Errorf("--account-key: %w", err)
	}
	return key, path, nil
}

// writeKeyFile writes a private key (0600), creating the directory.
func writeKeyFile(path string, key crypto.Signer) error {
	pem, err := client.MarshalKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, pem, 0o600)
}

// writeFileAtomic writes through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// session is one client command's run: its output, clock and client.
type session struct {
	out     *printer
	clock   clock.Clock
	log     *slog.Logger
	client  *client.Client
	keyPath string
}

// open starts a session and its context, which signals and --timeout
// end (call cancel when done); the account key is loaded (and created
// when create is set).
func (f *clientFlags) open(cmd *cobra.Command, create bool) (*session, context.Context, func(), error) {
	roots, err := readRoots(f.caBundle, "--ca-bundle")
	if err != nil {
		return nil, nil, nil, err
	}
	key, keyPath, err := f.loadAccountKey(create)
	if err != nil {
		return nil, nil, nil, err
	}
	s := &session{out: newPrinter(cmd, f.json), clock: clock.RealClock{}, keyPath: keyPath, log: slog.New(slog.DiscardHandler)}
	if f.verbose {
		s.log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	contact := make([]string, len(f.email))
	for i, e := range f.email {
		contact[i] = "mailto:" + strings.TrimPrefix(e, "mailto:")
	}
	s.client, err = client.New(client.Config{DirectoryURL: f.server, Roots: roots, Contact: contact,
		PollInterval: f.poll, MaxPollInterval: f.pollMax},
		client.Deps{Clock: s.clock, AccountKey: key, Logger: s.log, Progress: s.out.step})
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := commandContext(cmd, f.timeout)
	return s, ctx, cancel, nil
}

// commandContext is cmd's context ended by SIGINT/SIGTERM and timeout.
func commandContext(cmd *cobra.Command, timeout time.Duration) (context.Context, func()) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// printer writes progress lines ("✓ … (12 ms)") to stderr, or with
// --json one object per step and a final result object to stdout.
type printer struct {
	out, err io.Writer
	json     bool
}

func newPrinter(cmd *cobra.Command, asJSON bool) *printer {
	return &printer{out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(), json: asJSON}
}

// stepJSON is a step as --json prints it.
type stepJSON struct {
	Event      string       `json:"event"`
	Step       string       `json:"step"`
	OK         bool         `json:"ok"`
	Message    string       `json:"message,omitempty"`
	URL        string       `json:"url,omitempty"`
	Identifier string       `json:"identifier,omitempty"`
	Millis     float64      `json:"ms"`
	Error      string       `json:"error,omitempty"`
	Problem    *e2e.Problem `json:"problem,omitempty"`
}

// step prints one finished client step.
func (p *printer) step(s client.Step) {
	if p.json {
		j := stepJSON{Event: "step", Step: s.Name, OK: s.Err == nil, Message: s.Message, URL: s.URL,
			Identifier: s.Identifier, Millis: float64(s.Duration.Microseconds()) / 1000}
		if s.Err != nil {
			j.Error = s.Err.Error()
			if pr := client.Problem(s.Err); pr != nil {
				j.Problem = &e2e.Problem{Type: pr.ProblemType, Detail: pr.Detail, Status: pr.StatusCode}
			}
		}
		p.object(j)
		return
	}
	if s.Err != nil {
		fmt.Fprintf(p.err, "✗ %s: %v (%s)\n", s.Name, s.Err, e2e.FormatDuration(s.Duration))
		return
	}
	fmt.Fprintf(p.err, "✓ %s (%s)\n", s.Message, e2e.FormatDuration(s.Duration))
}

// note prints an informational line (stderr; a "note" object with --json).
func (p *printer) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.json {
		p.object(map[string]string{"event": "note", "message": msg})
		return
	}
	fmt.Fprintln(p.err, msg)
}

// result prints the command's final object with --json (event "result").
func (p *printer) result(v map[string]any) {
	if p.json {
		v["event"] = "result"
		p.object(v)
	}
}

func (p *printer) object(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(p.err, "fakeca: json:", err)
		return
	}
	fmt.Fprintln(p.out, string(b))
}
