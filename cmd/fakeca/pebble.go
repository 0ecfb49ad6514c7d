package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/faults"
)

// Pebble's environment variables that faults.FromPebbleEnv does not read
// (reference §1.9).
const (
	envChainLength    = "PEBBLE_CHAIN_LENGTH"
	envAlternateRoots = "PEBBLE_ALTERNATE_ROOTS"
	envOrdersPerPage  = "PEBBLE_WFE_ORDERS_PER_PAGE"
)

// pebbleEnvDefaults are Pebble's values for unset variables: 5 % of nonces
// rejected, validation sleeps of 0-4 s and 50 % authz reuse.
func pebbleEnvDefaults() map[string]string {
	return map[string]string{faults.EnvNonceReject: "5", faults.EnvVASleepTime: "5", faults.EnvAuthzReuse: "50"}
}

// newPebbleCmd is "fakeca pebble": Pebble's command line, parsed by the
// standard flag package so "-config x" and "--config=x" both work.
func newPebbleCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "pebble [-config FILE] [-dnsserver HOST:PORT] [-strict] [-version]",
		Short:              "Run as a drop-in for Pebble (its flags, JSON config, PEBBLE_* variables and URL paths)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPebble(cmd.Context(), args, os.Getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// runPebble runs Pebble mode until a signal (or ctx's end).
func runPebble(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("pebble", flag.ContinueOnError)
	fs.SetOutput(errOut)
	configPath := fs.String("config", "test/config/pebble-config.json", "Pebble JSON configuration file")
	dnsServer := fs.String("dnsserver", "", "DNS server host:port for validation (default: the system resolver)")
	strict := fs.Bool("strict", false, "reject ACME v1 \"resource\" fields and challenge bodies other than {}")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("pebble: unexpected arguments %q", fs.Args())
	}
	if *showVersion {
		fmt.Fprintf(out, "Pebble version: fakeca %s\n", version)
		return nil
	}
	icfg, err := pebbleInstanceConfig(*configPath, *dnsServer, *strict, getenv, errOut)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	inst, err := instance.Start(ctx, icfg, instance.Deps{Clock: clock.RealClock{}, Logger: newLogger("text", out)})
	if err != nil {
		return err
	}
	if a := inst.MgmtAddr(); a != "" {
		fmt.Fprintf(out, "Management interface listening on: %s\n", a)
		fmt.Fprintf(out, "Root CA certificate available at: https://%s/roots/0\n", a)
	}
	fmt.Fprintf(out, "Pebble running, listening on: %s\n", inst.ACMEAddr())
	select {
	case <-ctx.Done():
	case err = <-inst.Errors():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := inst.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

// pebbleInstanceConfig reads the config file (relative to the working
// directory), the PEBBLE_* variables and the flags into an instance
// configuration that opens only the listeners the file names. Warnings go
// to warn, one line each.
func pebbleInstanceConfig(path, dnsServer string, strict bool, getenv func(string) string, warn io.Writer) (instance.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return instance.Config{}, fmt.Errorf("config: %w", err)
	}
	pc, unknown, err := parsePebbleConfig(raw)
	if err != nil {
		return instance.Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(unknown) > 0 {
		fmt.Fprintf(warn, "warning: config %s: ignoring unknown keys: %s\n", path, strings.Join(unknown, ", "))
	}
	if err := pc.check(); err != nil {
		return instance.Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	fc, err := defaults("pebble")
	if err != nil {
		return instance.Config{}, err
	}
	cacfg, err := pc.caConfig(*fc.CA, strict)
	if err != nil {
		return instance.Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	fc.CA, fc.Listen, fc.MgmtListen = &cacfg, pc.ListenAddress, pc.ManagementListenAddress
	fc.DNS.Listen, fc.HTTP01Port, fc.TLSALPN01Port = "", orDefault(pc.HTTPPort, 5002), orDefault(pc.TLSPort, 5001)
	fc.HTTPListen = ""
	fc.Validation.SkipCAA = true // Pebble never checks CAA
	if dnsServer != "" {
		r, err := resolveDNSServer(dnsServer)
		if err != nil {
			return instance.Config{}, err
		}
		fc.DNSResolvers = []string{r}
	}
	if err := applyPebbleEnv(&fc, withPebbleDefaults(getenv)); err != nil {
		return instance.Config{}, err
	}
	if err := pebbleChainEnv(&fc, pc.KeyAlgorithm, getenv); err != nil {
		return instance.Config{}, err
	}
	if err := applyFakecaSection(&fc, pc.fakeca); err != nil {
		return instance.Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	icfg, err := fc.instanceConfig()
	if err != nil {
		return instance.Config{}, err
	}
	icfg.NoMgmtListener, icfg.NoHTTPListener = fc.MgmtListen == "", fc.HTTPListen == ""
	icfg.PKI.OCSPBaseURL = pc.OCSPResponderURL
	if pc.Certificate != "" {
		cert, err := tls.LoadX509KeyPair(pc.Certificate, pc.PrivateKey)
		if err != nil {
			return instance.Config{}, fmt.Errorf("pebble.certificate, pebble.privateKey: %w", err)
		}
		icfg.TLSCertificate = &cert
	}
	return icfg, icfg.PKI.Validate()
}

// applyFakecaSection decodes the config file's "fakeca" object, if any,
// over fc: fakeca's own --config keys (dataDir, rateLimits, faults, ocsp,
// httpListen, dns, …), so a Pebble harness gets them by editing only its
// config file. It comes last, so its values win over the Pebble settings
// and the PEBBLE_* variables (and their defaults); its fault rules follow
// theirs. Pebble mode opens the plain-HTTP (AIA, CRL, OCSP) and DNS
// listeners only when this section names them. Unknown keys are errors.
func applyFakecaSection(fc *fileConfig, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var probe struct {
		Preset *string `yaml:"preset"`
	}
	if err := yaml.Unmarshal(raw, &probe); err == nil && probe.Preset != nil {
		return errors.New("fakeca.preset: not used by fakeca pebble (the Pebble settings are the starting point)")
	}
	pebbleRules := fc.Faults.Rules
	fc.Faults.Rules = nil
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(fc); err != nil {
		return fmt.Errorf("fakeca: %w", err)
	}
	fc.Faults.Rules = append(pebbleRules, fc.Faults.Rules...)
	return nil
}

func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// withPebbleDefaults fills unset PEBBLE_* variables with Pebble's defaults.
func withPebbleDefaults(getenv func(string) string) func(string) string {
	defs := pebbleEnvDefaults()
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		if name == faults.EnvVASleepTime && getenv(faults.EnvVANoSleep) != "" {
			return ""
		}
		return defs[name]
	}
}

// pebbleChainEnv applies PEBBLE_CHAIN_LENGTH, PEBBLE_ALTERNATE_ROOTS and
// PEBBLE_WFE_ORDERS_PER_PAGE (Pebble's defaults 1, 0 and 3 when unset) and
// keyAlgorithm, which picks the intermediate that signs every leaf.
// Errors name the variable.
func pebbleChainEnv(fc *fileConfig, keyAlgorithm string, getenv func(string) string) error {
	for _, v := range []struct {
		name     string
		min, max int
		dst      *int
		def      int
	}{
		{envChainLength, 1, pki.MaxChainLength, &fc.ChainLength, 1},
		{envAlternateRoots, 0, pki.MaxAlternateRoots, &fc.AlternateRoots, 0},
		{envOrdersPerPage, 1, math.MaxInt32, &fc.CA.OrdersPerPage, 3},
	} {
		*v.dst = v.def
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min || n > v.max {
			// Pebble panics on PEBBLE_CHAIN_LENGTH=0 ("At least one
			// intermediate must be present"); fakeca refuses it.
			return fmt.Errorf("%s: %q is not an integer from %d to %d", v.name, s, v.min, v.max)
		}
		*v.dst = n
	}
	fc.LeafIssuer = pki.LeafIssuerRSA // Pebble's default keyAlgorithm
	if strings.EqualFold(keyAlgorithm, "ecdsa") {
		fc.LeafIssuer = pki.LeafIssuerECDSA
	}
	return nil
}

// resolveDNSServer turns -dnsserver's host:port into ip:port, preferring
// IPv4 as net.Listen does for a host name.
func resolveDNSServer(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return "", fmt.Errorf("-dnsserver: %q is not host:port", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("-dnsserver: %q: port must be a number", s)
	}
	if net.ParseIP(host) != nil {
		return net.JoinHostPort(host, port), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return "", errors.Join(fmt.Errorf("-dnsserver: cannot resolve %q", host), err)
	}
	best := ips[0]
	for _, ip := range ips {
		if ip.To4() != nil {
			best = ip
			break
		}
	}
	return net.JoinHostPort(best.String(), port), nil
}
