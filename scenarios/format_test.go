package scenarios

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParseBad checks that every testdata/bad_*.yaml fails with exactly the
// error on its "# want:" line.
func TestParseBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bufio.NewReader(bytes.NewReader(data)).ReadLine()
			want, ok := strings.CutPrefix(string(first), "# want: ")
			if !ok {
				t.Fatalf("%s has no # want: line", f)
			}
			_, err = Parse(filepath.Base(f), data)
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", want)
			}
			if err.Error() != want {
				t.Errorf("Parse error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

// TestParseGood checks the parsed form of a small scenario.
func TestParseGood(t *testing.T) {
	src := `name: good
description: a paragraph
certificates:
  - name: web
    dnsNames: [a.example.com, b.example.com]
    challenge: dns-01
    renewBefore: 720h
    useARI: true
timeline:
  - advance: 7d
  - break: web
    failure: http-404
  - inject: {name: down, action: {drop: true}}
  - clear: down
  - restart: {}
expect:
  accounts: 1
  certificates:
    web: {issuances: 2, ready: true, backoff: 2h, lastError: "404"}
`
	s, err := Parse("good.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct{ got, want any }{
		"name":          {s.Name, "good"},
		"names":         {len(s.Certificates[0].DNSNames), 2},
		"challenge":     {s.Certificates[0].Challenge, "dns-01"},
		"renewBefore":   {s.Certificates[0].Policy.RenewBefore, 720 * time.Hour},
		"steps":         {len(s.Timeline), 5},
		"advance":       {s.Timeline[0].Advance, 7 * 24 * time.Hour},
		"break failure": {s.Timeline[1].Failure, "http-404"},
		"break line":    {s.Timeline[1].Line, 11},
		"inject rule":   {s.Timeline[2].Rule.Name, "down"},
		"clear":         {s.Timeline[3].Target, "down"},
		"issuances":     {*s.Expect.Certificates[0].Issuances, 2},
		"backoff":       {*s.Expect.Certificates[0].Backoff, 2 * time.Hour},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}
