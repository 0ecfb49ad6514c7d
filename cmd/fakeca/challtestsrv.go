package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fakeca/fakeca/dnsserver"
)

// newChalltestsrvCmd is "fakeca challtestsrv": pebble-challtestsrv's
// command line on fakeca's DNS server and responders.
func newChalltestsrvCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "challtestsrv [-dnsserver ADDRS] [-http01 ADDRS] [-https01 ADDRS] [-tlsalpn01 ADDRS] [-doh ADDRS] …",
		Short:              "Run as a drop-in for pebble-challtestsrv (its flags and management API)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runChalltestsrv(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// challtestsrvConfig parses pebble-challtestsrv's flags (reference §2.2)
// into a dnsserver.Config. Every listener flag takes comma-separated
// addresses, all served; an empty value turns the listener off. Like
// pebble-challtestsrv, which only logs the failed listener, a -doh without
// -doh-cert or -doh-cert-key leaves DNS over HTTPS off with one warning;
// certificate files that are given but unusable are an error. Errors name
// the flag at fault.
func challtestsrvConfig(args []string, warn io.Writer) (dnsserver.Config, error) {
	fs := flag.NewFlagSet("pebble-challtestsrv", flag.ContinueOnError)
	fs.SetOutput(warn)
	dnsAddr := fs.String("dnsserver", ":8053", "DNS server bind addresses (UDP and TCP), comma-separated")
	dns01 := fs.String("dns01", "", "older name of -dnsserver")
	http01 := fs.String("http01", ":5002", "HTTP-01 server bind addresses, comma-separated; \"\" disables")
	https01 := fs.String("https01", ":5003", "HTTPS HTTP-01 server bind addresses, comma-separated; \"\" disables")
	tlsalpn := fs.String("tlsalpn01", ":5001", "TLS-ALPN-01 server bind addresses, comma-separated; \"\" disables")
	doh := fs.String("doh", ":8443", "DNS-over-HTTPS server bind addresses, comma-separated; \"\" disables")
	dohCert := fs.String("doh-cert", "", "DNS-over-HTTPS certificate file (PEM)")
	dohKey := fs.String("doh-cert-key", "", "DNS-over-HTTPS private key file (PEM)")
	mgmt := fs.String("management", ":8055", "management API bind addresses, comma-separated; \"\" disables")
	v4 := fs.String("defaultIPv4", dnsserver.DefaultIPv4, "default A answer; \"\" disables")
	v6 := fs.String("defaultIPv6", dnsserver.DefaultIPv6, "default AAAA answer; \"\" disables")
	if err := fs.Parse(args); err != nil {
		return dnsserver.Config{}, err
	}
	if fs.NArg() > 0 {
		return dnsserver.Config{}, fmt.Errorf("pebble-challtestsrv: unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["dns01"] && !set["dnsserver"] {
		*dnsAddr = *dns01
	}
	cfg := dnsserver.Config{Listen: *dnsAddr, HTTP01Listen: *http01, HTTPS01Listen: *https01,
		TLSALPN01Listen: *tlsalpn, ManagementListen: *mgmt, DefaultIPv4: *v4, DefaultIPv6: *v6,
		ChalltestsrvAnswers: true}
	if len(dnsserver.ListenAddrs(cfg.Listen)) == 0 {
		fmt.Fprintln(warn, "warning: -dnsserver \"\": fakeca cannot turn DNS off; serving on 127.0.0.1:0")
		cfg.Listen = "127.0.0.1:0"
	}
	if len(dnsserver.ListenAddrs(*doh)) > 0 {
		if missing := missingDoHFlags(*dohCert, *dohKey); missing != "" {
			fmt.Fprintf(warn, "warning: -doh %s needs %s; DNS over HTTPS is off\n", *doh, missing)
		} else {
			cfg.DoHListen, cfg.DoHCert, cfg.DoHKey = *doh, *dohCert, *dohKey
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, challtestsrvFlagError(err)
	}
	if err := loadDoHKeyPair(&cfg); err != nil {
		return cfg, challtestsrvFlagError(err)
	}
	return cfg, nil
}

// missingDoHFlags names the DoH certificate flags left empty, "" when
// both are set.
func missingDoHFlags(cert, key string) string {
	var missing []string
	if cert == "" {
		missing = append(missing, "-doh-cert")
	}
	if key == "" {
		missing = append(missing, "-doh-cert-key")
	}
	return strings.Join(missing, " and ")
}

// challtestsrvFlagError rewrites the YAML paths in a dnsserver error
// ("dns.dohCert: …") as the pebble-challtestsrv flags that set them.
func challtestsrvFlagError(err error) error {
	r := strings.NewReplacer("dns.listen", "-dnsserver", "dns.http01Listen", "-http01",
		"dns.https01Listen", "-https01", "dns.tlsalpn01Listen", "-tlsalpn01", "dns.dohListen", "-doh",
		"dns.dohCert", "-doh-cert", "dns.dohKey", "-doh-cert-key", "dns.challtestsrvListen", "-management",
		"dns.defaultIPv4", "-defaultIPv4", "dns.defaultIPv6", "-defaultIPv6")
	return errors.New(r.Replace(err.Error()))
}

// runChalltestsrv serves until a signal (or ctx's end).
func runChalltestsrv(ctx context.Context, args []string, out, errOut io.Writer) error {
	cfg, err := challtestsrvConfig(args, errOut)
	if err != nil {
		return err
	}
	return runDNS(ctx, cfg, out, errOut)
}
