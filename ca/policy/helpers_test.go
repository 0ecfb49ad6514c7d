package policy

import (
	"errors"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

// wantProblem fails unless err is an *acme.Error with exactly typ and detail.
// An empty typ means err must be nil.
func wantProblem(t *testing.T, err error, typ acme.ErrorType, detail string) *acme.Error {
	t.Helper()
	if typ == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return nil
	}
	var e *acme.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *acme.Error %s %q", err, err, typ, detail)
	}
	if e.Type != typ || e.Detail != detail {
		t.Fatalf("got %s %q\nwant %s %q", e.Type, e.Detail, typ, detail)
	}
	return e
}

func mustNew(t *testing.T, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dns(v string) acme.Identifier { return acme.Identifier{Type: acme.TypeDNS, Value: v} }
func ip(v string) acme.Identifier  { return acme.Identifier{Type: acme.TypeIP, Value: v} }
