package faults

import (
	"path"
	"strings"
	"testing"
)

// TestGlobAgreesWithPathMatch checks the fast matcher against path.Match
// on lowercased strings.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"*.flaky.test", "flaky.test", "*", "a*", "*a", "a?c.test", "*.*.test", "**.x", "a*b*c",
		"[ab].test", `\*.test`, "*.tést", "", "?", "*?", "x*/y"}
	names := []string{"a.flaky.test", "flaky.test", "*.flaky.test", "b.a.flaky.test", "abc.test", "a.test", "b.test",
		"*.test", "A.FLAKY.Test", "AbC.TEST", "axbxc", "ac", "", "a", "x.x", "a.b.test", "ab", "x/y", "xa/y", "é.tést"}
	for _, p := range patterns {
		g, err := newGlob(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		for _, n := range names {
			want, _ := path.Match(strings.ToLower(p), strings.ToLower(n))
			if got := g.match(n); got != want {
				t.Errorf("glob %q on %q: %v, path.Match says %v", p, n, got, want)
			}
		}
	}
}
