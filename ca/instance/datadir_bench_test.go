package instance_test

import (
	"crypto/tls"
	"testing"

	"github.com/fakeca/fakeca/ca/instance"
)

// ldDataDirClients is how many x/crypto/acme clients issue at once in
// BenchmarkIssuanceDataDir: enough for the on-disk store's group commit to
// batch writes.
const ldDataDirClients = 8

// BenchmarkIssuanceDataDir compares end-to-end issuance (always-valid,
// in-process, ldDataDirClients concurrent clients) with state in memory and
// in the embedded database of DataDir, where every write is fsynced before
// the client hears of it. Metrics as BenchmarkIssuance; see BENCHMARKS.md
// for the ratio.
func BenchmarkIssuanceDataDir(b *testing.B) {
	for _, name := range []string{"memory", "datadir"} {
		b.Run(name, func(b *testing.B) {
			inst := ldStartInstance(b, ldAlwaysValid, 0, func(cfg *instance.Config) {
				if name == "datadir" {
					cfg.DataDir = b.TempDir()
				}
			})
			srv := ldServer{dirURL: inst.DirectoryURL(), tls: &tls.Config{RootCAs: ldPool(b, inst.BundlePEM())}}
			ldBench(b, srv, ldCase{"inproc-" + name, ldAlwaysValid, ldDataDirClients}, nil)
		})
	}
}
