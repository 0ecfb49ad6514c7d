package challengeval

import (
	"slices"
	"strings"
)

// matcher maps name patterns to values: an exact name ("a.example") or
// "*.suffix", which matches any name at any depth below suffix. An exact
// pattern wins over a wildcard and a longer wildcard suffix over a shorter
// one; among equal patterns the first added wins. Matching ignores case and
// a trailing dot. Read-only after construction, so safe for concurrent use.
type matcher[T any] struct {
	exact     map[string]T
	wildcards []suffixValue[T] // longest suffix first
}

type suffixValue[T any] struct {
	suffix string // ".test" for "*.test"
	value  T
}

// newMatcher compiles patterns (already checked by checkPattern) and their
// values, given in the same order.
func newMatcher[T any](patterns []string, values []T) matcher[T] {
	m := matcher[T]{exact: map[string]T{}}
	for i, p := range patterns {
		name := normalizeName(p)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			m.wildcards = append(m.wildcards, suffixValue[T]{suffix: "." + rest, value: values[i]})
			continue
		}
		if _, dup := m.exact[name]; !dup {
			m.exact[name] = values[i]
		}
	}
	slices.SortStableFunc(m.wildcards, func(a, b suffixValue[T]) int { return len(b.suffix) - len(a.suffix) })
	return m
}

// lookup returns the value of the most specific pattern matching name.
func (m matcher[T]) lookup(name string) (T, bool) {
	name = normalizeName(name)
	if v, ok := m.exact[name]; ok {
		return v, true
	}
	for _, w := range m.wildcards {
		if strings.HasSuffix(name, w.suffix) && len(name) > len(w.suffix) {
			return w.value, true
		}
	}
	var zero T
	return zero, false
}
