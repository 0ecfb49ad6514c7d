// Command fakeca is a local Let's Encrypt: an ACME server that validates,
// issues, revokes and fails like Let's Encrypt, on your machine.
//
// It is the only package that reads flags, environment variables and
// files; everything else receives values.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	root := newRootCmd()
	// Invoked as "pebble" or "pebble-challtestsrv" (e.g. through a
	// symlink), behave as that binary: its arguments go to the drop-in.
	switch filepath.Base(os.Args[0]) {
	case "pebble":
		root.SetArgs(append([]string{"pebble"}, os.Args[1:]...))
	case "pebble-challtestsrv":
		root.SetArgs(append([]string{"challtestsrv"}, os.Args[1:]...))
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fakeca:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	serve := newServeCmd()
	root := &cobra.Command{
		Use:           "fakeca",
		Short:         "A local Let's Encrypt: ACME server, validation, revocation, rate limits and faults",
		Long:          "fakeca runs an ACME CA that behaves like Let's Encrypt. With no subcommand it serves (see 'fakeca serve --help').",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          serve.RunE,
	}
	root.Flags().AddFlagSet(serve.Flags())
	root.AddCommand(newClusterIssuerCmd())
	root.AddCommand(newPebbleCmd(), newChalltestsrvCmd())
	root.AddCommand(newIssueCmd(), newRenewCmd(), newRevokeCmd(), newAccountCmd(), newE2ECmd())
	root.AddCommand(newScenarioCmd())
	root.AddCommand(newSimulateCmd())
	root.AddCommand(serve, newDNSCmd(), &cobra.Command{
		Use:   "version",
		Short: "Print fakeca's version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "fakeca", version) },
	})
	return root
}
