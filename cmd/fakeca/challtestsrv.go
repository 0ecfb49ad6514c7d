package main

import (
	"context"
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
		Use:                "challtestsrv [-dnsserver ADDR] [-http01 ADDR] [-tlsalpn01 ADDR] [-management ADDR] …",
		Short:              "Run as a drop-in for pebble-challtestsrv (its flags and management API)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runChalltestsrv(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// challtestsrvConfig parses pebble-challtestsrv's flags (reference §2.2)
// into a dnsserver.Config. An empty value turns a listener off; of a
// comma-separated list only the first address is served (with a warning).
// -https01 and -doh are accepted but not served, with a warning when set.
func challtestsrvConfig(args []string, warn io.Writer) (dnsserver.Config, error) {
	fs := flag.NewFlagSet("pebble-challtestsrv", flag.ContinueOnError)
	fs.SetOutput(warn)
	dnsAddr := fs.String("dnsserver", ":8053", "DNS server bind addresses (UDP and TCP), comma-separated")
	dns01 := fs.String("dns01", "", "older name of -dnsserver")
	http01 := fs.String("http01", ":5002", "HTTP-01 server bind addresses, comma-separated; \"\" disables")
	_ = fs.String("https01", ":5003", "HTTPS HTTP-01 server (accepted, not served by fakeca)")
	tlsalpn := fs.String("tlsalpn01", ":5001", "TLS-ALPN-01 server bind addresses, comma-separated; \"\" disables")
	_ = fs.String("doh", ":8443", "DNS-over-HTTPS server (accepted, not served by fakeca)")
	_ = fs.String("doh-cert", "", "DoH certificate file (accepted, unused)")
	_ = fs.String("doh-cert-key", "", "DoH key file (accepted, unused)")
	mgmt := fs.String("management", ":8055", "management API bind address; \"\" disables")
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
	for _, name := range []string{"https01", "doh"} {
		if set[name] && fs.Lookup(name).Value.String() != "" {
			fmt.Fprintf(warn, "warning: -%s is not served by fakeca challtestsrv\n", name)
		}
	}
	first := func(name, v string) string {
		addrs := strings.Split(v, ",")
		if len(addrs) > 1 {
			fmt.Fprintf(warn, "warning: -%s: only the first address (%s) is served\n", name, addrs[0])
		}
		return strings.TrimSpace(addrs[0])
	}
	cfg := dnsserver.Config{Listen: first("dnsserver", *dnsAddr), HTTP01Listen: first("http01", *http01),
		TLSALPN01Listen: first("tlsalpn01", *tlsalpn), ManagementListen: first("management", *mgmt),
		DefaultIPv4: *v4, DefaultIPv6: *v6}
	if cfg.Listen == "" {
		fmt.Fprintln(warn, "warning: -dnsserver \"\": fakeca cannot turn DNS off; serving on 127.0.0.1:0")
		cfg.Listen = "127.0.0.1:0"
	}
	return cfg, cfg.Validate()
}

// runChalltestsrv serves until a signal (or ctx's end).
func runChalltestsrv(ctx context.Context, args []string, out, errOut io.Writer) error {
	cfg, err := challtestsrvConfig(args, errOut)
	if err != nil {
		return err
	}
	return runDNS(ctx, cfg, out, errOut)
}
