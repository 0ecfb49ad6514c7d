package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fakeca/fakeca/client"
)

// certFlags describe the certificate of issue and renew.
type certFlags struct {
	domains []string
	out     string
	profile string
	keyType string
}

func (f *certFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVarP(&f.domains, "domain", "d", nil, "DNS name, wildcard (*.example.test) or IP of the certificate (repeatable; the first is the CN)")
	fl.StringVar(&f.out, "out", "", "directory for privkey.pem, cert.pem, chain.pem, fullchain.pem (default ./fakeca-certs/<first name>)")
	fl.StringVar(&f.profile, "profile", "", "ACME profile to request, e.g. classic, tlsserver, shortlived (default: the server's)")
	fl.StringVar(&f.keyType, "key-type", string(client.KeyECDSAP256), "certificate key: "+strings.Join(client.KeyTypes(), ", "))
}

func newIssueCmd() *cobra.Command {
	var cf clientFlags
	var sf solverFlags
	var f certFlags
	cmd := &cobra.Command{
		Use:   "issue -d NAME [-d NAME…]",
		Short: "Get a certificate from any ACME server (fakeca, Pebble, Let's Encrypt staging)",
		Long: "issue registers the account (if needed), orders a certificate, solves the challenges with the " +
			"built-in http-01 / tls-alpn-01 responders, RFC 2136 updates (dns-01) or --hook, and writes the key, " +
			"certificate and chain files. Progress goes to stderr; --json prints JSON objects on stdout.",
		Args: cobra.NoArgs,
	}
	cf.register(cmd.Flags())
	sf.register(cmd.Flags())
	f.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if len(f.domains) == 0 {
			return errors.New("-d/--domain: at least one name is required")
		}
		s, ctx, cancel, err := cf.open(cmd, true)
		if err != nil {
			return err
		}
		defer cancel()
		crt, files, err := obtain(ctx, s, &sf, &f, f.domains, "")
		if err != nil {
			return err
		}
		s.out.result(certResult(s, crt, files))
		return nil
	}
	return cmd
}

// obtain registers the account, starts the solvers, issues the
// certificate and writes its files.
func obtain(ctx context.Context, s *session, sf *solverFlags, f *certFlags, names []string, replaces string) (*client.Certificate, []string, error) {
	if !slices.Contains(client.KeyTypes(), f.keyType) {
		return nil, nil, fmt.Errorf("--key-type: %q is not one of %s", f.keyType, strings.Join(client.KeyTypes(), ", "))
	}
	dir, err := outDir(f.out, names)
	if err != nil {
		return nil, nil, err
	}
	if _, _, err := s.client.Register(ctx); err != nil {
		return nil, nil, err
	}
	sol, err := sf.start(ctx, s.clock, s.log)
	if err != nil {
		return nil, nil, err
	}
	defer sol.stop(ctx)

	crt, err := s.client.Issue(ctx, client.Request{Names: names, Challenges: sf.challenges, Solvers: sol.byType,
		Profile: f.profile, Replaces: replaces, KeyType: client.KeyType(f.keyType)})
	if err != nil {
		return nil, nil, err
	}
	files, err := writeCertFiles(dir, crt)
	if err != nil {
		return nil, nil, err
	}
	s.out.note("✓ wrote %s", strings.Join(files, ", "))
	return crt, files, nil
}

// certResult is the --json result of issue and renew.
func certResult(s *session, crt *client.Certificate, files []string) map[string]any {
	return map[string]any{
		"account": s.client.AccountURL(), "order": crt.OrderURL, "certificate": crt.URL,
		"serial": crt.Leaf.SerialNumber.Text(16), "names": certNames(crt.Leaf),
		"notBefore": crt.Leaf.NotBefore.UTC().Format(time.RFC3339), "notAfter": crt.Leaf.NotAfter.UTC().Format(time.RFC3339),
		"profile": crt.Profile, "replaces": crt.Replaces, "files": files,
	}
}
