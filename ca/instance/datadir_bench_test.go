package instance_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/fakeca/fakeca/ca/instance"
	"github.com/fakeca/fakeca/ratelimit"
)

// ldDataDirClients is how many x/crypto/acme clients issue at once in
// BenchmarkIssuanceDataDir: enough for the on-disk store's group commit to
// batch writes.
const ldDataDirClients = 8

// BenchmarkIssuanceDataDir compares end-to-end issuance (always-valid,
// in-process, ldDataDirClients concurrent clients) with state in memory and
// in the embedded database of DataDir, where every write is fsynced before
// the client hears of it. The "-limits" variants run the
// letsencrypt-production limits with bursts no benchmark exhausts, so every
// order and issuance spends rate-limit buckets (kept in DataDir's database
// too); the others run with limits off. Metrics as BenchmarkIssuance; see
// BENCHMARKS.md for the ratio.
func BenchmarkIssuanceDataDir(b *testing.B) {
	for _, name := range []string{"memory", "datadir", "memory-limits", "datadir-limits"} {
		b.Run(name, func(b *testing.B) {
			inst := ldStartInstance(b, ldAlwaysValid, 0, func(cfg *instance.Config) {
				if name == "datadir" || name == "datadir-limits" {
					cfg.DataDir = b.TempDir()
				}
				if name == "memory-limits" || name == "datadir-limits" {
					cfg.RateLimits = ldUnreachableLimits()
				}
			})
			srv := ldServer{dirURL: inst.DirectoryURL(), tls: &tls.Config{RootCAs: ldPool(b, inst.BundlePEM())}}
			ldBench(b, srv, ldCase{"inproc-" + name, ldAlwaysValid, ldDataDirClients}, nil)
		})
	}
}

// ldUnreachableLimits is the letsencrypt-production preset with every
// bucket limit raised out of a benchmark's reach, and no request limits.
func ldUnreachableLimits() ratelimit.Config {
	var limits []ratelimit.Override
	for _, n := range []ratelimit.Name{ratelimit.NewRegistrationsPerIPAddress, ratelimit.NewOrdersPerAccount,
		ratelimit.FailedAuthorizationsPerDomainPerAccount, ratelimit.CertificatesPerDomain,
		ratelimit.CertificatesPerFQDNSet, ratelimit.FailedAuthorizationsForPausingPerDomainPerAccount} {
		limits = append(limits, ratelimit.Override{Limit: n, Burst: 1e9, Count: 1e9, Period: time.Hour})
	}
	return ratelimit.Config{Preset: ratelimit.PresetProduction, DisableRequestLimits: true, Limits: limits}
}
