package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/dnsserver"
)

// dnsFlags are the DNS server's flags, shared by serve and "fakeca dns".
type dnsFlags struct {
	zones []string
	tsig  []string
}

// addDNSFlags registers --dns-listen, --dns-zone, --tsig and
// --challtestsrv-listen, writing into cfg and df.
func addDNSFlags(fl *pflag.FlagSet, cfg *dnsserver.Config, df *dnsFlags) {
	fl.StringVar(&cfg.Listen, "dns-listen", dnsserver.DefaultListen,
		"built-in DNS server addresses, UDP and TCP, comma-separated (\"\" turns it off)")
	fl.StringArrayVar(&df.zones, "dns-zone", nil, "zone the DNS server is authoritative for, besides test. (repeatable)")
	fl.StringArrayVar(&df.tsig, "tsig", nil, "TSIG key NAME:ALGORITHM:BASE64SECRET for RFC 2136 updates (repeatable)")
	fl.StringVar(&cfg.ManagementListen, "challtestsrv-listen", dnsserver.DefaultManagementListen,
		"pebble-challtestsrv-compatible API addresses, comma-separated (\"\" turns it off)")
}

// mergeDNSFlags copies the DNS flags that were set over cfg.
func mergeDNSFlags(cfg *dnsserver.Config, flags *pflag.FlagSet, f dnsserver.Config) {
	if flags.Changed("dns-listen") {
		cfg.Listen = f.Listen
	}
	if flags.Changed("challtestsrv-listen") {
		cfg.ManagementListen = f.ManagementListen
	}
	cfg.Zones = append(cfg.Zones, f.Zones...)
	cfg.TSIG = append(cfg.TSIG, f.TSIG...)
}

// parse turns --dns-zone and --tsig into cfg entries; errors name the flag.
func (df dnsFlags) parse(cfg *dnsserver.Config) error {
	cfg.Zones = append(cfg.Zones, df.zones...)
	for i, s := range df.tsig {
		k, err := dnsserver.ParseTSIGFlag(s)
		if err != nil {
			return fmt.Errorf("tsig[%d] (--tsig): %w", i, err)
		}
		cfg.TSIG = append(cfg.TSIG, k)
	}
	return nil
}

// newDNSCmd is "fakeca dns": the DNS server and its challtestsrv API alone.
func newDNSCmd() *cobra.Command {
	cfg := dnsserver.DefaultConfig()
	var df dnsFlags
	cmd := &cobra.Command{
		Use:   "dns",
		Short: "Run only the DNS server (RFC 2136 updates, TSIG) and its pebble-challtestsrv-compatible API",
		Args:  cobra.NoArgs,
	}
	addDNSFlags(cmd.Flags(), &cfg, &df)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := df.parse(&cfg); err != nil {
			return err
		}
		return runDNS(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func runDNS(ctx context.Context, cfg dnsserver.Config, out, logOut io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := loadDoHKeyPair(&cfg); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := dnsserver.New(cfg, dnsserver.Deps{Clock: clock.RealClock{}, Logger: newLogger("text", logOut)})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "fakeca DNS serving %v on %s (UDP+TCP)\n", srv.Zones(),
		strings.Join(srv.ListenerAddrs(dnsserver.ListenerDNS), ", "))
	for _, l := range []struct{ name, label, scheme string }{{dnsserver.ListenerManagement, "pebble-challtestsrv API", "http"},
		{dnsserver.ListenerDoH, "DNS over HTTPS", "https"}, {dnsserver.ListenerHTTP01, "HTTP-01", "http"},
		{dnsserver.ListenerHTTPS01, "HTTPS-01", "https"}, {dnsserver.ListenerTLSALPN01, "TLS-ALPN-01", "tls"}} {
		for _, a := range srv.ListenerAddrs(l.name) {
			fmt.Fprintf(out, "  %s: %s://%s\n", l.label, l.scheme, a)
		}
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
