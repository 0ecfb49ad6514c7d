package policy

import (
	"strings"
	"testing"

	"github.com/fakeca/fakeca/internal/yamltest"
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
	yamltest.BadFiles(t, "testdata", func(data []byte) error { return yamltest.Strict(data, &Config{}) })
}
