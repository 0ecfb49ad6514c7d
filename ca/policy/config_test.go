package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"zero value", Config{}, ""},
		{"every option", Config{StrictPublicSuffix: true, AllowEd25519CSR: true,
			Blocklist: []string{"bank.example.com", "*.evil.com", "*.test", "Mixed.Case.com"}}, ""},
		{"empty entry", Config{Blocklist: []string{"a.com", ""}}, "policy.blocklist[1]: must not be empty"},
		{"double wildcard", Config{Blocklist: []string{"*.*.evil.com"}}, `policy.blocklist[0]: "*.*.evil.com": "*" is only allowed as a leading "*." label`},
		{"bare star", Config{Blocklist: []string{"*"}}, `policy.blocklist[0]: "*": "*" is only allowed as a leading "*." label`},
		{"empty pattern", Config{Blocklist: []string{"*."}}, `policy.blocklist[0]: "*." is not a valid domain name`},
		{"empty label", Config{Blocklist: []string{"evil..com"}}, `policy.blocklist[0]: "evil..com" is not a valid domain name`},
		{"hyphen edge", Config{Blocklist: []string{"-evil.com"}}, `policy.blocklist[0]: "-evil.com" is not a valid domain name`},
		{"long label", Config{Blocklist: []string{strings.Repeat("a", 64) + ".com"}}, `policy.blocklist[0]: "` + strings.Repeat("a", 64) + `.com" is not a valid domain name`},
		{"single-label exact", Config{Blocklist: []string{"com"}}, `policy.blocklist[0]: "com": an exact name needs at least two labels (use "*.com" to block a whole suffix)`},
		{"duplicate", Config{Blocklist: []string{"a.com", "b.com", "A.com"}}, `policy.blocklist[2]: "A.com" duplicates policy.blocklist[0]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			_, newErr := New(tc.cfg)
			switch {
			case tc.want == "" && (err != nil || newErr != nil):
				t.Fatalf("Validate: %v, New: %v", err, newErr)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			case tc.want != "" && newErr == nil:
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// TestBadConfigFiles loads each testdata/bad_*.yaml strictly, as cmd/fakeca
// does, and expects the error named on its "# want:" first line.
func TestBadConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad_*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatal(`first line must be "# want: <error>"`)
			}
			var cfg Config
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err = dec.Decode(&cfg); err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want %q", err, want)
			}
		})
	}
}
