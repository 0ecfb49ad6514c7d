package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca"
	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/client/e2e"
	"github.com/fakeca/fakeca/dnsserver"
	"github.com/fakeca/fakeca/ratelimit"
)

// e2eFlags are "fakeca e2e"'s flags.
type e2eFlags struct {
	solverFlags
	server, caBundle, roots, mgmtURL string
	domain, profile, junit           string
	json, verbose                    bool
	timeout, poll, pollMax, crlWait  time.Duration
}

func newE2ECmd() *cobra.Command {
	var f e2eFlags
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Run the whole certificate life against fakeca (in-process by default) or --server, and report each step",
		Long: "e2e runs account → order (http-01 and a dns-01 wildcard) → validation → finalize → chain to the root → " +
			"ARI window → renewal with replaces → revocation → CRL lists the serial → OCSP says revoked (when the " +
			"certificate has an OCSP URL) → management cert status. Without --server it starts its own fakeca on " +
			"free loopback ports (OCSP on). It prints a step table, exits non-zero at the first failure with the " +
			"server's exact problem, and writes --json / --junit FILE for CI.",
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "ACME directory URL of the server under test (default: start fakeca in-process)")
	fl.StringVar(&f.caBundle, "ca-bundle", "", "PEM roots for --server's TLS (default: system roots)")
	fl.StringVar(&f.roots, "roots", "", "PEM roots the issued chain must verify to (default: --ca-bundle)")
	fl.StringVar(&f.mgmtURL, "mgmt-url", "", "fakeca management URL for the cert-status check, e.g. https://127.0.0.1:15000")
	fl.StringVar(&f.domain, "domain", e2e.DefaultDomain, "base name: the order is for NAME (http-01) and *.NAME (dns-01)")
	fl.StringVar(&f.profile, "profile", "", "ACME profile to request")
	fl.StringVar(&f.http01Listen, "http01-listen", "127.0.0.1:5002", "http-01 responder address (with --server; the server must connect to it)")
	fl.StringVar(&f.dnsServer, "dns-server", "127.0.0.1:8053", "DNS server taking RFC 2136 updates for dns-01 (with --server)")
	fl.StringVar(&f.dnsZone, "dns-zone", "", "zone to update (default: found by SOA)")
	fl.StringVar(&f.tsig, "tsig", "", "TSIG key NAME:ALGORITHM:BASE64SECRET for the updates")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON on stdout instead of the table")
	fl.StringVar(&f.junit, "junit", "", "also write the report as JUnit XML to FILE")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "debug logs (client and in-process server) on stderr")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up after this long")
	fl.DurationVar(&f.poll, "poll-interval", time.Second, "wait between polls when the server sends no Retry-After")
	fl.DurationVar(&f.pollMax, "poll-max", time.Second, "longest wait between polls (fakeca asks for 3 s while an order is processing)")
	fl.DurationVar(&f.crlWait, "crl-wait", 2*time.Second, "how long the CRL may take to list the serial (fakeca dates CRLs to the second, "+
		"so a revocation can take up to 1 s; more with fakeca serve --crl-publish-delay)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runE2E(cmd, &f) }
	return cmd
}

func runE2E(cmd *cobra.Command, f *e2eFlags) error {
	ctx, cancel := commandContext(cmd, f.timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if f.verbose {
		log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := e2e.Config{Domain: f.domain, Profile: f.profile, PollInterval: f.poll, MaxPollInterval: f.pollMax, CRLWait: f.crlWait}
	deps := e2e.Deps{Clock: clock.RealClock{}, Logger: log}
	if !f.json {
		deps.OnStep = func(r e2e.Result) { printE2EStep(cmd, r) }
	}
	stop, err := f.target(ctx, &cfg, &deps, log)
	if err != nil {
		return err
	}
	defer stop()
	report, err := e2e.Run(ctx, cfg, deps)
	if err != nil {
		return err
	}
	if f.json {
		err = report.WriteJSON(cmd.OutOrStdout())
	} else {
		err = report.WriteTable(cmd.OutOrStdout())
	}
	if err == nil && f.junit != "" {
		err = writeJUnit(f.junit, report)
	}
	if err != nil {
		return err
	}
	if failed, ok := report.Failed(); ok {
		return fmt.Errorf("e2e failed at %s: %s", failed.Step, failed.Message())
	}
	return nil
}

// target fills in the server under test: --server, or a fakeca started
// here (stop shuts it down).
func (f *e2eFlags) target(ctx context.Context, cfg *e2e.Config, deps *e2e.Deps, log *slog.Logger) (stop func(), err error) {
	if f.server != "" {
		cfg.DirectoryURL, cfg.MgmtURL, cfg.HTTP01Listen = f.server, f.mgmtURL, f.http01Listen
		if cfg.Roots, err = readRoots(f.caBundle, "--ca-bundle"); err != nil {
			return nil, err
		}
		if cfg.ChainRoots, err = readRoots(f.roots, "--roots"); err != nil {
			return nil, err
		}
		cfg.DNS, err = f.rfc2136Config()
		return func() {}, err
	}
	inst, ln, err := startE2EInstance(ctx, f.domain, log)
	if err != nil {
		return nil, err
	}
	pool, err := poolFromPEM(inst.BundlePEM())
	if err != nil {
		_ = inst.Shutdown(context.Background())
		return nil, err
	}
	cfg.DirectoryURL, cfg.MgmtURL, cfg.Roots = inst.DirectoryURL(), "https://"+inst.MgmtAddr(), pool
	cfg.DNS.Server, deps.HTTP01Listener = inst.DNS().Addr(), ln
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = inst.Shutdown(sctx)
	}, nil
}

// startE2EInstance starts a fakeca on free loopback ports that validates
// for real: http-01 goes to the returned listener (the e2e responder),
// names under domain resolve to 127.0.0.1, and its own DNS server (zone
// domain, no TSIG) takes the dns-01 records. OCSP is on; rate limits are
// the staging preset's, without the load balancer's request limits.
func startE2EInstance(ctx context.Context, domain string, log *slog.Logger) (*instance.Instance, net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	var overrides []challengeval.HostOverride
	for _, p := range []string{domain, "*." + domain} {
		o, err := challengeval.ParseHostOverride(p + "=127.0.0.1")
		if err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("--domain: %w", err)
		}
		overrides = append(overrides, o)
	}
	dns := dnsserver.DefaultConfig()
	dns.Listen, dns.ManagementListen, dns.Zones = "127.0.0.1:0", "", []string{domain}
	cacfg := ca.DefaultConfig()
	cacfg.OCSP = true
	cfg := instance.Config{Listen: "127.0.0.1:0", MgmtListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0", CA: cacfg, DNS: &dns,
		Validation: challengeval.Config{HTTP01Port: ln.Addr().(*net.TCPAddr).Port, HostOverrides: overrides,
			LookupTimeout: 5 * time.Second, HTTPTimeout: 5 * time.Second},
		RateLimits: ratelimit.Config{DisableRequestLimits: true}}
	inst, err := instance.Start(ctx, cfg, instance.Deps{Clock: clock.RealClock{}, Logger: log})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return inst, ln, nil
}

// printE2EStep is the live progress line of one step (stderr).
func printE2EStep(cmd *cobra.Command, r e2e.Result) {
	w := cmd.ErrOrStderr()
	switch r.Status {
	case e2e.Fail:
		fmt.Fprintf(w, "✗ %s: %s (%s)\n", r.Step, r.Message(), e2e.FormatDuration(r.Duration))
	case e2e.Skip:
		fmt.Fprintf(w, "- %s skipped: %s\n", r.Step, r.Detail)
	default:
		fmt.Fprintf(w, "✓ %s: %s (%s)\n", r.Step, r.Detail, e2e.FormatDuration(r.Duration))
	}
}

// writeJUnit writes the report as JUnit XML to path.
func writeJUnit(path string, r e2e.Report) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := r.WriteJUnit(fh); err != nil {
		fh.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}
