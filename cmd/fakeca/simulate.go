package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/scenarios"
)

func newSimulateCmd() *cobra.Command {
	var cfg scenarios.SimConfig
	var faultsFile, chart string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate N cert-manager Certificates against Let's Encrypt for D days on a fake clock",
		Long: "simulate runs the CA and N cert-manager-like managers (one ClusterIssuer, so one account; " +
			"certificate n is c<n>.sim<n>.test, each its own registered domain) in one process on a fake clock, " +
			"and reports issuances, renewals, failures by reason, rate-limit denials, expired certificates, " +
			"the minimum remaining validity and a per-day timeline.",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Certs, "certs", 100, "number of certificates")
	f.IntVar(&cfg.Days, "days", 365, "simulated days")
	f.StringVar(&cfg.Preset, "preset", "production", "rate limits: production, staging or off")
	f.StringVar(&faultsFile, "faults", "", "YAML file of fault rules, as the server's faults: section (rules: [...])")
	f.StringVar(&cfg.Profile, "profile", "", "ACME profile to order (default: the CA's, classic)")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the simulation's random choices")
	f.StringVar(&chart, "chart", "", "also write an SVG chart of the timeline to FILE")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if faultsFile != "" {
			fc, err := loadFaults(faultsFile)
			if err != nil {
				return err
			}
			cfg.Faults = fc
		}
		cfg.Start = time.Now().UTC().Truncate(time.Second)
		rep, err := scenarios.Simulate(cmd.Context(), cfg)
		if err != nil {
			return err
		}
		if chart != "" {
			var buf bytes.Buffer
			if err := rep.WriteSVG(&buf); err != nil {
				return err
			}
			if err := os.WriteFile(chart, buf.Bytes(), 0o644); err != nil { //nolint:gosec // a chart, not a secret
				return err
			}
		}
		return writeReport(cmd.OutOrStdout(), rep, asJSON)
	}
	return cmd
}

// loadFaults reads a faults.Config YAML file, rejecting unknown keys.
func loadFaults(path string) (faults.Config, error) {
	var fc faults.Config
	b, err := os.ReadFile(path)
	if err != nil {
		return fc, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fc, fmt.Errorf("%s: %w", path, err)
	}
	if err := fc.Validate(); err != nil {
		return fc, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

func writeReport(w io.Writer, rep scenarios.Report, asJSON bool) error {
	if !asJSON {
		return rep.WriteText(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
