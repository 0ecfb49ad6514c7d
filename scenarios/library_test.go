package scenarios

import (
	"context"
	"testing"
	"time"
)

// testStart is the fake clock's start: near the real time, because the
// CA's serving certificate is dated from it and checked against it.
func testStart() time.Time { return time.Now().UTC().Truncate(time.Second) }

// TestLibrary runs every built-in scenario as a subtest.
func TestLibrary(t *testing.T) {
	lib, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(lib) < 20 {
		t.Errorf("the library has %d scenarios, want at least 20", len(lib))
	}
	for _, s := range lib {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), s, Options{Start: testStart()})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Passed {
				for _, e := range res.Events {
					t.Logf("%s %s %s: %s", e.At, e.Certificate, e.Kind, e.Message)
				}
				for _, f := range res.Failures {
					t.Error(f)
				}
			}
		})
	}
}
