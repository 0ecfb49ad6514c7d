package ratelimit_test

import (
	"testing"

	"github.com/fakeca/fakeca/ratelimit"
	"github.com/fakeca/fakeca/ratelimit/ratelimittest"
)

// TestConformance runs the storage conformance suite against the in-memory
// Source, History and Pauses.
func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(*testing.T) ratelimittest.Backend {
		return ratelimittest.Backend{Source: ratelimit.NewMemorySource(), History: ratelimit.NewMemoryHistory(),
			Pauses: ratelimit.NewMemoryPauses()}
	})
}
