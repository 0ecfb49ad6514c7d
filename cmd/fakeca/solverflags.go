package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/client"
	"github.com/fakeca/fakeca/dnsserver"
)

// solverFlags choose and configure the challenge solvers of issue and
// renew.
type solverFlags struct {
	challenges      []string
	http01Listen    string
	tlsalpn01Listen string
	dnsServer       string
	dnsZone         string
	tsig            string
	hook            string
}

func (f *solverFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.challenges, "challenge", []string{client.ChallengeHTTP01},
		"challenge types to use, most preferred first (http-01, dns-01, tls-alpn-01; comma-separated); a wildcard needs dns-01")
	fl.StringVar(&f.http01Listen, "http01-listen", "127.0.0.1:80", "address of the built-in http-01 responder (\":80\" on a public host)")
	fl.StringVar(&f.tlsalpn01Listen, "tlsalpn01-listen", "127.0.0.1:443", "address of the built-in tls-alpn-01 responder")
	fl.StringVar(&f.dnsServer, "dns-server", "127.0.0.1:8053", "DNS server host:port that takes RFC 2136 updates for dns-01 (default: fakeca's DNS server)")
	fl.StringVar(&f.dnsZone, "dns-zone", "", "zone to update for dns-01 (default: found by asking --dns-server for the SOA)")
	fl.StringVar(&f.tsig, "tsig", "", "TSIG key NAME:ALGORITHM:BASE64SECRET for the RFC 2136 updates")
	fl.StringVar(&f.hook, "hook", "", "program run as 'PROGRAM present|cleanup NAME VALUE' to solve every challenge instead of the built-in solvers (see docs of client.HookConfig)")
}

// solvers are the started solvers of one run; stop shuts them down.
type solvers struct {
	byType map[string]client.Solver
	stops  []func(context.Context) error
}

func (s *solvers) stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, f := range s.stops {
		_ = f(ctx)
	}
}

// start builds and starts the solvers the chosen challenge types need.
func (f *solverFlags) start(ctx context.Context, clk clock.Clock, log *slog.Logger) (*solvers, error) {
	s := &solvers{byType: map[string]client.Solver{}}
	for _, typ := range f.challenges {
		if !slices.Contains([]string{client.ChallengeHTTP01, client.ChallengeDNS01, client.ChallengeTLSALPN01}, typ) {
			return nil, fmt.Errorf("--challenge: %q is not http-01, dns-01 or tls-alpn-01", typ)
		}
	}
	if f.hook != "" {
		fields := strings.Fields(f.hook)
		h, err := client.NewHook(client.HookConfig{Command: fields[0], Args: fields[1:], Env: os.Environ()}, client.HookDeps{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("--hook: %w", err)
		}
		for _, typ := range f.challenges {
			s.byType[typ] = h
		}
		return s, nil
	}
	if err := f.startBuiltin(ctx, s, clk, log); err != nil {
		s.stop(ctx)
		return nil, err
	}
	return s, nil
}

func (f *solverFlags) startBuiltin(ctx context.Context, s *solvers, clk clock.Clock, log *slog.Logger) error {
	for _, typ := range f.challenges {
		switch typ {
		case client.ChallengeHTTP01:
			h := client.NewHTTP01(client.HTTP01Config{Listen: f.http01Listen}, client.HTTP01Deps{Logger: log})
			if err := h.Start(ctx); err != nil {
				return fmt.Errorf("--http01-listen: %w", err)
			}
			s.byType[typ], s.stops = h, append(s.stops, h.Shutdown)
		case client.ChallengeTLSALPN01:
			t, err := client.NewTLSALPN01(client.TLSALPN01Config{Listen: f.tlsalpn01Listen}, client.TLSALPN01Deps{Clock: clk, Logger: log})
			if err == nil {
				err = t.Start(ctx)
			}
			if err != nil {
				return fmt.Errorf("--tlsalpn01-listen: %w", err)
			}
			s.byType[typ], s.stops = t, append(s.stops, t.Shutdown)
		case client.ChallengeDNS01:
			d, err := f.rfc2136(clk, log)
			if err != nil {
				return err
			}
			s.byType[typ] = d
		}
	}
	return nil
}

// rfc2136Config turns --dns-server, --dns-zone and --tsig into the
// RFC 2136 solver's configuration.
func (f *solverFlags) rfc2136Config() (client.RFC2136Config, error) {
	cfg := client.RFC2136Config{Server: f.dnsServer, Zone: f.dnsZone}
	if f.tsig != "" {
		k, err := dnsserver.ParseTSIGFlag(f.tsig)
		if err != nil {
			return cfg, err
		}
		cfg.TSIGKeyName, cfg.TSIGAlgorithm, cfg.TSIGSecret = k.Name, k.Algorithm, k.Secret
	}
	return cfg, nil
}

func (f *solverFlags) rfc2136(clk clock.Clock, log *slog.Logger) (*client.RFC2136, error) {
	cfg, err := f.rfc2136Config()
	if err != nil {
		return nil, err
	}
	return client.NewRFC2136(cfg, client.RFC2136Deps{Clock: clk, Logger: log})
}
