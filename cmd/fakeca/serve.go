package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca/instance"
)

func newServeCmd() *cobra.Command {
	var f fileConfig
	var df dnsFlags
	var configPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ACME server (the default command)",
		Args:  cobra.NoArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "YAML configuration file (every flag has a key of the same name in camelCase)")
	fl.StringVar(&f.Preset, "preset", "letsencrypt-staging", "behaviour preset: letsencrypt-staging, letsencrypt-production, pebble, permissive")
	fl.StringVar(&f.Listen, "listen", "127.0.0.1:14000", "ACME HTTPS listen address")
	fl.StringVar(&f.MgmtListen, "mgmt-listen", "127.0.0.1:15000", "management HTTPS listen address")
	fl.StringVar(&f.HTTPListen, "http-listen", "127.0.0.1:14080", "plain HTTP listen address (AIA, CRL, OCSP)")
	fl.StringVar(&f.DataDir, "data-dir", "", "directory for persistent state (empty: memory only)")
	fl.StringVar(&f.BundleOut, "bundle-out", "", "write the PEM trust bundle here (default: <data-dir>/bundle.pem or a temp file)")
	fl.StringSliceVar(&f.TLSHosts, "tls-hosts", nil, "extra DNS names / IPs for the serving certificate (comma-separated)")
	fl.BoolVar(&f.AlwaysValid, "always-valid", false, "accept every challenge without contacting anything")
	fl.IntVar(&f.HTTP01Port, "http01-port", 80, "port http-01 validation connects to")
	fl.IntVar(&f.TLSALPN01Port, "tlsalpn01-port", 443, "port tls-alpn-01 validation connects to")
	fl.StringArrayVar(&f.DNSResolvers, "dns-resolver", nil, "DNS resolver host:port for validation (repeatable; default: the system's)")
	fl.StringArrayVar(&f.Resolve, "resolve", nil, "static host map PATTERN=ADDR[,ADDR] e.g. '*.test=127.0.0.1' (repeatable)")
	fl.StringVar(&f.LogFormat, "log-format", "text", "log format: text or json")
	fl.BoolVar(&f.StrictPublicSuffix, "strict-public-suffix", false, "apply Let's Encrypt's exact public-suffix rule (refuse .test, .localhost, …)")
	fl.BoolVar(&f.AllowOrderValidity, "allow-order-validity", false, "accept notBefore/notAfter in new-order (cert-manager's enableDurationFeature)")
	fl.BoolVar(&f.AllowEd25519, "allow-ed25519", false, "accept Ed25519 CSR keys (cert-manager's e2e issues them; Let's Encrypt does not)")
	fl.BoolVar(&f.OCSP, "ocsp", false, "serve an OCSP responder and put its URL in certificates (Let's Encrypt ended OCSP in 2025)")
	fl.DurationVar(&f.CRLPublishDelay, "crl-publish-delay", 0, "delay before a revocation appears in CRLs (Let's Encrypt: up to 24h)")
	fl.StringVar(&f.PublicURL, "public-url", "", "base URL for AIA/CRL/OCSP URLs in certificates (default: http://<http-listen>)")
	fl.StringVar(&f.Hierarchy, "hierarchy", "", "certificate hierarchy names: fakeca (default), letsencrypt-staging, letsencrypt-production")
	fl.IntVar(&f.ChainLength, "chain-length", 1, "intermediates per chain (Pebble's PEBBLE_CHAIN_LENGTH), 1-16")
	fl.IntVar(&f.AlternateRoots, "alternate-roots", 0, "extra roots, each with its own alternate chains (PEBBLE_ALTERNATE_ROOTS), 0-16")
	addDNSFlags(fl, &f.DNS, &df)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := df.parse(&f.DNS); err != nil {
			return err
		}
		cfg, err := loadConfig(cmd.Flags(), f, configPath)
		if err != nil {
			return err
		}
		if err := applyPebbleEnv(&cfg, os.Getenv); err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func serve(ctx context.Context, fc fileConfig, out, logOut io.Writer) error {
	icfg, err := fc.instanceConfig()
	if err != nil {
		return err
	}
	log := newLogger(fc.LogFormat, logOut)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	inst, err := instance.Start(ctx, icfg, instance.Deps{Clock: clock.RealClock{}, Logger: log})
	if err != nil {
		return err
	}
	bundlePath, err := writeBundle(fc, inst.BundlePEM())
	if err != nil {
		_ = inst.Shutdown(context.Background())
		return err
	}
	printBanner(out, inst, bundlePath)
	select {
	case <-ctx.Done():
	case err = <-inst.Errors():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := inst.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// writeBundle writes the trust bundle where the user asked, else into the
// data directory, else into a temp file, and returns the path.
func writeBundle(fc fileConfig, pem []byte) (string, error) {
	path := fc.BundleOut
	switch {
	case path != "":
	case fc.DataDir != "":
		path = filepath.Join(fc.DataDir, "bundle.pem")
	default:
		path = filepath.Join(os.TempDir(), "fakeca", "bundle.pem")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("bundleOut (--bundle-out): %w", err)
	}
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		return "", fmt.Errorf("bundleOut (--bundle-out): %w", err)
	}
	return path, nil
}
