package main

import (
	"crypto"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fakeca/fakeca/client"
)

// revokeFlags are revoke's own flags.
type revokeFlags struct {
	domains                        []string
	out, certPath, keyPath, reason string
	byCertKey                      bool
}

func newRevokeCmd() *cobra.Command {
	var cf clientFlags
	var f revokeFlags
	cmd := &cobra.Command{
		Use:   "revoke (--cert FILE | -d NAME | --out DIR)",
		Short: "Revoke a certificate, signed by the account or by the certificate's own key",
		Long: "revoke sends revokeCert for DIR/cert.pem (or --cert FILE). By default the request is signed by the " +
			"account key; --cert-key signs it with the certificate's private key (DIR/privkey.pem or --key FILE), " +
			"which works from any account. The server then lists the serial in its CRL.",
		Args: cobra.NoArgs,
	}
	fl := cmd.Flags()
	cf.register(fl)
	fl.StringArrayVarP(&f.domains, "domain", "d", nil, "first name of the certificate, to find ./fakeca-certs/<name>/")
	fl.StringVar(&f.out, "out", "", "certificate directory (default ./fakeca-certs/<first name>)")
	fl.StringVar(&f.certPath, "cert", "", "certificate PEM file (default DIR/cert.pem)")
	fl.StringVar(&f.reason, "reason", "unspecified", "CRL reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation or a number")
	fl.BoolVar(&f.byCertKey, "cert-key", false, "sign with the certificate's private key instead of the account key")
	fl.StringVar(&f.keyPath, "key", "", "certificate private key for --cert-key (default DIR/privkey.pem)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runRevoke(cmd, &cf, f) }
	return cmd
}

func runRevoke(cmd *cobra.Command, cf *clientFlags, f revokeFlags) error {
	code, err := client.ParseReason(f.reason)
	if err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	dir := f.out
	if f.certPath == "" || (f.byCertKey && f.keyPath == "") {
		if dir, err = outDir(f.out, f.domains); err != nil {
			return fmt.Errorf("%w, or --cert FILE", err)
		}
	}
	if f.certPath == "" {
		f.certPath = filepath.Join(dir, fileCert)
	}
	leaf, der, err := readLeaf(f.certPath)
	if err == nil && leaf == nil {
		err = fmt.Errorf("--cert: %s does not exist", f.certPath)
	}
	if err != nil {
		return err
	}
	var certKey crypto.Signer
	if f.byCertKey {
		if f.keyPath == "" {
			f.keyPath = filepath.Join(dir, fileKey)
		}
		if certKey, err = readKey(f.keyPath); err != nil {
			return fmt.Errorf("--key: %w", err)
		}
	}
	s, ctx, cancel, err := cf.open(cmd, f.byCertKey)
	if err != nil {
		return err
	}
	defer cancel()
	signer := "certificate key"
	if !f.byCertKey {
		if _, err := s.client.Account(ctx); err != nil {
			return err
		}
		signer = "account " + s.client.AccountURL()
	}
	if err := s.client.Revoke(ctx, der, certKey, code); err != nil {
		return err
	}
	s.out.result(map[string]any{"revoked": true, "serial": leaf.SerialNumber.Text(16), "reason": int(code), "signedBy": signer})
	return nil
}
