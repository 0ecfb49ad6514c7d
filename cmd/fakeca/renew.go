package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
	"github.com/spf13/cobra"

	"github.com/fakeca/fakeca/client"
)

// reasonManual and msgManual say why --force issues, in the words of
// cmctl renew (which sets the Issuing condition directly); not checked
// against cmctl's source, which is not in reference/.
const (
	reasonManual = "ManuallyTriggered"
	msgManual    = "Certificate re-issuance manually triggered"
)

// renewFlags are renew's policy flags.
type renewFlags struct {
	force, dryRun         bool
	ari                   bool
	renewBefore           time.Duration
	renewBeforePercentage int32
	minBackoff            time.Duration
	maxBackoff            time.Duration
}

func newRenewCmd() *cobra.Command {
	var cf clientFlags
	var sf solverFlags
	var f certFlags
	var rf renewFlags
	cmd := &cobra.Command{
		Use:   "renew (-d NAME | --out DIR)",
		Short: "Renew a certificate when due, like cert-manager (ARI-aware; sends replaces)",
		Long: "renew reads DIR/cert.pem and renews it when cert-manager would: at 2/3 of the lifetime (or " +
			"--renew-before / --renew-before-percentage), or once the server's ARI window has opened. After a failed " +
			"issuance it backs off 1 h, 2 h, 4 h … 32 h (state in DIR/renewal.json). The new order names the old " +
			"certificate in 'replaces' (RFC 9773). -d names a first issuance (and finds DIR); an existing certificate " +
			"is renewed for its own names. Run it from cron; it exits 0 when nothing is due.",
		Args: cobra.NoArgs,
	}
	cf.register(cmd.Flags())
	sf.register(cmd.Flags())
	f.register(cmd.Flags())
	fl := cmd.Flags()
	fl.BoolVar(&rf.force, "force", false, "renew now, ignoring the schedule and the backoff (like cmctl renew)")
	fl.BoolVar(&rf.dryRun, "dry-run", false, "only print the decision")
	fl.BoolVar(&rf.ari, "ari", true, "use the server's renewal-info window and send replaces (cert-manager's ACMEUseARI gate, off there by default)")
	fl.DurationVar(&rf.renewBefore, "renew-before", 0, "renew this long before expiry (cert-manager spec.renewBefore)")
	fl.Int32Var(&rf.renewBeforePercentage, "renew-before-percentage", 0, "renew this percentage of the lifetime before expiry (spec.renewBeforePercentage)")
	fl.DurationVar(&rf.minBackoff, "min-backoff", client.DefaultMinBackoff, "backoff after the first failed issuance")
	fl.DurationVar(&rf.maxBackoff, "max-backoff", client.DefaultMaxBackoff, "longest backoff")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runRenew(cmd, &cf, &sf, &f, &rf) }
	return cmd
}

// renewal is the certificate being renewed and its state.
type renewal struct {
	dir, statePath string
	leaf           *x509.Certificate
	state          client.RenewalState
	policy         client.Policy
}

func runRenew(cmd *cobra.Command, cf *clientFlags, sf *solverFlags, f *certFlags, rf *renewFlags) error {
	dir, err := outDir(f.out, f.domains)
	if err != nil {
		return err
	}
	r := renewal{dir: dir, statePath: filepath.Join(dir, fileRenewal), policy: client.Policy{RenewBefore: rf.renewBefore,
		RenewBeforePercentage: rf.renewBeforePercentage, UseARI: rf.ari, MinBackoff: rf.minBackoff, MaxBackoff: rf.maxBackoff}}
	if r.leaf, _, err = readLeaf(filepath.Join(dir, fileCert)); err != nil {
		return err
	}
	if r.state, err = readState(r.statePath); err != nil {
		return err
	}
	names := f.domains // a first issuance; an existing certificate renews its own names
	if r.leaf != nil {
		names = certNames(r.leaf)
	}
	if len(names) == 0 {
		return fmt.Errorf("no %s in %s: give -d NAME to issue it", fileCert, dir)
	}
	f.out = dir
	s, ctx, cancel, err := cf.open(cmd, true)
	if err != nil {
		return err
	}
	defer cancel()
	replaces := r.refreshARI(ctx, s)
	d := r.decide(s.clock.Now())
	if !d.Renew && !rf.force || rf.dryRun {
		s.out.note("renewal: %s: %s", d.Reason, d.Message)
		s.out.result(decisionResult(d))
		return writeState(r.statePath, r.state)
	}
	if !d.Renew { // --force
		d.Reason, d.Message = reasonManual, msgManual
	}
	s.out.note("renewal: %s: %s", d.Reason, d.Message)
	crt, files, err := obtain(ctx, s, sf, f, names, replaces)
	if err != nil {
		r.state = r.state.Failed(s.clock.Now(), err)
		next := r.state.LastFailureTime.Add(client.IssuanceBackoff(r.state.FailedIssuanceAttempts, rf.minBackoff, rf.maxBackoff))
		s.out.note("issuance failed (attempt %d); next attempt not before %s", r.state.FailedIssuanceAttempts, next.UTC().Format(time.RFC3339))
		if werr := writeState(r.statePath, r.state); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	r.state = r.state.Succeeded()
	res := certResult(s, crt, files)
	res["renewed"], res["reason"] = true, d.Reason
	s.out.result(res)
	return writeState(r.statePath, r.state)
}

// refreshARI fetches renewal-info when cert-manager would (never fetched,
// NextCheck reached, or fetched for an older certificate) and returns the
// CertID to send as replaces ("" without ARI).
func (r *renewal) refreshARI(ctx context.Context, s *session) string {
	if !r.policy.UseARI || r.leaf == nil {
		return ""
	}
	now := s.clock.Now()
	if client.NeedARIFetch(r.state.ARI, r.leaf.NotBefore, now) {
		ri, err := s.client.RenewalInfo(ctx, r.leaf)
		switch {
		case errors.Is(err, acme.ErrCADoesNotSupportARI):
			r.policy.UseARI, r.state.ARI = false, nil
			return ""
		case err != nil: // keep the old window; ask again after the default poll
			if r.state.ARI == nil {
				r.state.ARI = &client.ARIState{}
			}
			r.state.ARI.LastChecked, r.state.ARI.NextCheck = now, client.NextARICheck(now, 0, rand.Float64())
		default:
			r.state.ARI = &client.ARIState{Window: ri, LastChecked: now, NextCheck: client.NextARICheck(now, ri.RetryAfter, rand.Float64())}
		}
	}
	id, err := client.CertID(r.leaf)
	if err != nil {
		return ""
	}
	return id
}

func (r *renewal) decide(now time.Time) client.Decision {
	in := client.Input{Now: now, Policy: r.policy, State: r.state, ARIRandom: rand.Float64()}
	if r.leaf != nil {
		in.NotBefore, in.NotAfter = r.leaf.NotBefore, r.leaf.NotAfter
	}
	return client.Decide(in)
}

// decisionResult is renew's --json result when it does not issue.
func decisionResult(d client.Decision) map[string]any {
	out := map[string]any{"renewed": false, "reason": d.Reason, "message": d.Message}
	if !d.RenewalTime.IsZero() {
		out["renewalTime"] = d.RenewalTime.UTC().Format(time.RFC3339)
	}
	if !d.NextAttempt.IsZero() {
		out["nextAttempt"] = d.NextAttempt.UTC().Format(time.RFC3339)
	}
	return out
}
