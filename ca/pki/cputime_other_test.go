//go:build !unix

package pki

import "time"

// cpuTime is unavailable here; benchmarks then skip the cpu-ns/op metric.
func cpuTime() time.Duration { return 0 }
