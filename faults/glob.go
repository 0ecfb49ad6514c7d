package faults

import (
	"path"
	"strings"
)

// glob is a compiled Match.Identifier: path.Match syntax, lowercased.
// Patterns of ASCII with only '*' and '?' as metacharacters (nearly all:
// "*.flaky.test") use an allocation-free linear matcher; the rest use
// path.Match, whose failure path re-checks the whole pattern and is
// ten times slower.
type glob struct {
	pattern string
	simple  bool
	suffix  bool // pattern is "*" and a literal: the usual "*.example.com"
	literal bool // pattern has no metacharacter
}

// newGlob lowercases and checks pattern.
func newGlob(pattern string) (glob, error) {
	p := strings.ToLower(pattern)
	if _, err := path.Match(p, ""); err != nil {
		return glob{}, err
	}
	simple := true
	for i := 0; i < len(p); i++ {
		if c := p[i]; c >= 0x80 || c == '[' || c == '\\' {
			simple = false
		}
	}
	lit := !strings.ContainsAny(p, `*?[\`)
	suffix := len(p) > 1 && p[0] == '*' && !strings.ContainsAny(p[1:], `*?[\`)
	return glob{pattern: p, simple: simple, suffix: suffix, literal: lit}, nil
}

// match reports whether s matches, ignoring case.
func (g glob) match(s string) bool {
	switch {
	case g.literal:
		return strings.EqualFold(s, g.pattern)
	case g.suffix:
		n := len(s) - len(g.pattern) + 1
		return n >= 0 && strings.EqualFold(s[n:], g.pattern[1:]) && strings.IndexByte(s[:n], '/') < 0
	case !g.simple:
		ok, _ := path.Match(g.pattern, strings.ToLower(s))
		return ok
	}
	p := g.pattern
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == lower(s[si]) || p[pi] == '?' && s[si] != '/'):
			pi++
			si++
		case star >= 0 && s[mark] != '/':
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// lower lowercases an ASCII letter.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
