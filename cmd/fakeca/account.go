package main

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fakeca/fakeca/client"
)

// newAccountCmd is "fakeca account register|show|deactivate|key-change".
func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Register, show, deactivate an ACME account or change its key",
		Long: "The account is the key in --account-key (created by register, issue and renew when missing); " +
			"the server finds the account by that key.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(accountSub("register", "Register the account (or find it if the key already has one)", true, accountRegister),
		accountSub("show", "Show the account of the key", false, accountShow),
		accountSub("deactivate", "Deactivate the account for good (RFC 8555 §7.3.6)", false, accountDeactivate),
		newKeyChangeCmd())
	return cmd
}

// accountSub builds one account subcommand around run.
func accountSub(name, short string, create bool, run func(context.Context, *session) error) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: name, Short: short, Args: cobra.NoArgs}
	cf.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, ctx, cancel, err := cf.open(cmd, create)
		if err != nil {
			return err
		}
		defer cancel()
		return run(ctx, s)
	}
	return cmd
}

func accountRegister(ctx context.Context, s *session) error {
	a, created, err := s.client.Register(ctx)
	if err != nil {
		return err
	}
	s.out.result(accountResult(s, a, map[string]any{"created": created}))
	return nil
}

func accountShow(ctx context.Context, s *session) error {
	a, err := s.client.Account(ctx)
	if err != nil {
		return err
	}
	if !s.out.json {
		fmt.Fprintf(s.out.out, "URL:     %s\nStatus:  %s\nContact: %s\nOrders:  %s\nKey:     %s\n",
			a.URL, a.Status, strings.Join(a.Contact, ", "), a.OrdersURL, s.keyPath)
	}
	s.out.result(accountResult(s, a, nil))
	return nil
}

func accountDeactivate(ctx context.Context, s *session) error {
	a, err := s.client.Account(ctx)
	if err != nil {
		return err
	}
	if err := s.client.Deactivate(ctx); err != nil {
		return err
	}
	a.Status = "deactivated"
	s.out.result(accountResult(s, a, nil))
	return nil
}

// accountResult is the --json result of the account commands.
func accountResult(s *session, a client.Account, extra map[string]any) map[string]any {
	out := map[string]any{"url": a.URL, "status": a.Status, "contact": a.Contact, "orders": a.OrdersURL, "key": s.keyPath}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// newKeyChangeCmd rolls the account over to a new key and stores it in
// --account-key (the old key is kept as <file>.old).
func newKeyChangeCmd() *cobra.Command {
	var cf clientFlags
	var newKeyPath, keyType string
	cmd := &cobra.Command{
		Use:   "key-change",
		Short: "Roll the account over to a new key (RFC 8555 §7.3.5); the old key is kept as <account-key>.old",
		Args:  cobra.NoArgs,
	}
	cf.register(cmd.Flags())
	cmd.Flags().StringVar(&newKeyPath, "new-key", "", "PEM file of the new key (default: generate one)")
	cmd.Flags().StringVar(&keyType, "key-type", string(client.KeyECDSAP256), "type of a generated key: "+strings.Join(client.KeyTypes(), ", "))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if !slices.Contains(client.KeyTypes(), keyType) {
			return fmt.Errorf("--key-type: %q is not one of %s", keyType, strings.Join(client.KeyTypes(), ", "))
		}
		s, ctx, cancel, err := cf.open(cmd, false)
		if err != nil {
			return err
		}
		defer cancel()
		var newKey crypto.Signer
		if newKeyPath != "" {
			newKey, err = readKey(newKeyPath)
		} else {
			newKey, err = client.NewKey(client.KeyType(keyType))
		}
		if err != nil {
			return fmt.Errorf("--new-key: %w", err)
		}
		a, err := s.client.Account(ctx)
		if err != nil {
			return err
		}
		// Keep the new key on disk before the server switches to it.
		pending := s.keyPath + ".new"
		if err := writeKeyFile(pending, newKey); err != nil {
			return err
		}
		if err := s.client.ChangeKey(ctx, newKey); err != nil {
			_ = os.Remove(pending)
			return err
		}
		if err := os.Rename(s.keyPath, s.keyPath+".old"); err != nil {
			return fmt.Errorf("the account now uses %s, but: %w", pending, err)
		}
		if err := os.Rename(pending, s.keyPath); err != nil {
			return fmt.Errorf("the account now uses %s, but: %w", pending, err)
		}
		s.out.result(accountResult(s, a, map[string]any{"oldKey": s.keyPath + ".old"}))
		return nil
	}
	return cmd
}
