package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fakeca/fakeca/scenarios"
)

func newScenarioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "List, show and run failure scenarios (cert-manager against a simulated Let's Encrypt)",
		Long: "A scenario is a YAML file: the CA's setup, certificates under management, a timeline (advance time, " +
			"inject or clear faults, break or fix a challenge responder, restart the CA) and expectations. " +
			"It runs in-process on a fake clock, with cert-manager's renewal and backoff policy.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runScenarioList(cmd.OutOrStdout()) },
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in scenario's YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := scenarios.Source(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}, newScenarioRunCmd())
	return cmd
}

func runScenarioList(w io.Writer) error {
	lib, err := scenarios.Library()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range lib {
		summary, _, _ := strings.Cut(strings.TrimSpace(s.Description), ". ")
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, strings.TrimPrefix(summary, "Cause: "))
	}
	return tw.Flush()
}

func newScenarioRunCmd() *cobra.Command {
	var asJSON bool
	var junit string
	cmd := &cobra.Command{
		Use:   "run NAME|FILE…",
		Short: "Run built-in scenarios (by name, or \"all\") or scenario files",
		Args:  cobra.MinimumNArgs(1),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each result as a JSON object, one per line")
	cmd.Flags().StringVar(&junit, "junit", "", "also write a JUnit XML report to FILE")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		list, err := loadScenarios(args)
		if err != nil {
			return err
		}
		var results []timedResult
		failed := 0
		for _, s := range list {
			start := time.Now()
			res, err := scenarios.Run(cmd.Context(), s, scenarios.Options{Start: start.UTC().Truncate(time.Second)})
			if err != nil {
				res = &scenarios.Result{Name: s.Name, File: s.File, Failures: []string{err.Error()}}
			}
			tr := timedResult{res, time.Since(start)}
			results = append(results, tr)
			if !res.Passed {
				failed++
			}
			if err := printResult(cmd.OutOrStdout(), tr, asJSON); err != nil {
				return err
			}
		}
		if junit != "" {
			if err := writeScenarioJUnit(junit, results); err != nil {
				return err
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d scenarios failed", failed, len(results))
		}
		return nil
	}
	return cmd
}

// loadScenarios resolves each argument: "all", a built-in name, or a file.
func loadScenarios(args []string) ([]*scenarios.Scenario, error) {
	var out []*scenarios.Scenario
	for _, a := range args {
		if a == "all" {
			lib, err := scenarios.Library()
			if err != nil {
				return nil, err
			}
			out = append(out, lib...)
			continue
		}
		if !strings.HasSuffix(a, ".yaml") && !strings.HasSuffix(a, ".yml") {
			s, err := scenarios.Lookup(a)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		b, err := os.ReadFile(a)
		if err != nil {
			return nil, err
		}
		s, err := scenarios.Parse(a, b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// timedResult is a result with its wall time.
type timedResult struct {
	*scenarios.Result
	wall time.Duration
}

func printResult(w io.Writer, r timedResult, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r.Result)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	status := "PASS"
	if !r.Passed {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s (%s simulated, %s)\n", status, r.Name, r.Elapsed, r.wall.Round(time.Millisecond))
	for _, c := range r.Certificates {
		fmt.Fprintf(w, "  %s: %d attempts, %d issued, ready=%t", c.Name, c.Attempts, c.Issuances, c.Ready)
		if c.FailedAttempts > 0 {
			fmt.Fprintf(w, ", %d failures, backoff %s", c.FailedAttempts, c.Backoff)
		}
		fmt.Fprintln(w)
		if c.LastError != "" {
			fmt.Fprintf(w, "    last error: %s\n", c.LastError)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  %s\n", f)
	}
	return nil
}

// JUnit XML, as CI systems read it.
type scenarioSuite struct {
	XMLName  xml.Name       `xml:"testsuite"`
	Name     string         `xml:"name,attr"`
	Tests    int            `xml:"tests,attr"`
	Failures int            `xml:"failures,attr"`
	Time     string         `xml:"time,attr"`
	Cases    []scenarioCase `xml:"testcase"`
}

type scenarioCase struct {
	Name      string           `xml:"name,attr"`
	ClassName string           `xml:"classname,attr"`
	Time      string           `xml:"time,attr"`
	Failure   *scenarioFailure `xml:"failure,omitempty"`
}

type scenarioFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func writeScenarioJUnit(path string, results []timedResult) error {
	suite := scenarioSuite{Name: "fakeca scenarios", Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		total += r.wall
		c := scenarioCase{Name: r.Name, ClassName: "scenarios", Time: fmt.Sprintf("%.3f", r.wall.Seconds())}
		if !r.Passed {
			suite.Failures++
			c.Failure = &scenarioFailure{Message: fmt.Sprintf("%d expectation(s) failed", len(r.Failures)),
				Text: strings.Join(r.Failures, "\n")}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = fmt.Sprintf("%.3f", total.Seconds())
	b, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644); err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	return nil
}
