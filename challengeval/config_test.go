package challengeval

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// configCase is one Config.Validate golden case.
type configCase struct {
	name string
	cfg  Config
	want []string // one line per problem; none means valid
}

func checkConfigCases(t *testing.T, tests []configCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	loop := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	tests := []configCase{
		{name: "zero value"},
		{name: "everything set", cfg: Config{HTTP01Port: 5002, TLSALPN01Port: 5001, Resolvers: []string{"127.0.0.1:8053", "[::1]:53"},
			HostOverrides: []HostOverride{{Pattern: "*.test", Addrs: loop}, {Pattern: "_x.Example.", Addrs: loop}},
			LookupTimeout: time.Second, HTTPTimeout: time.Second, RedirectPortMap: map[int]int{80: 5002, 443: 5001}}},
		{name: "ports out of range", cfg: Config{HTTP01Port: 70000, TLSALPN01Port: -1}, want: []string{
			"validation.http01Port: must be 1-65535, got 70000",
			"validation.tlsAlpn01Port: must be 1-65535, got -1",
		}},
		{name: "bad resolvers", cfg: Config{Resolvers: []string{"127.0.0.1", ":53", "127.0.0.1:0", "h:x"}}, want: []string{
			`validation.resolvers[0]: "127.0.0.1" is not host:port`,
			`validation.resolvers[1]: ":53" has an empty host`,
			`validation.resolvers[2]: "127.0.0.1:0": port must be 1-65535`,
			`validation.resolvers[3]: "h:x": port must be 1-65535`,
		}},
		{name: "bad host overrides", cfg: Config{HostOverrides: []HostOverride{
			{Pattern: "", Addrs: loop},
			{Pattern: "a.*.test", Addrs: loop},
			{Pattern: "ok.test"},
			{Pattern: "a b.test", Addrs: []netip.Addr{{}}},
			{Pattern: "a..test", Addrs: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}},
		}}, want: []string{
			"validation.hostOverrides[0].pattern: must not be empty",
			`validation.hostOverrides[1].pattern: "a.*.test": a wildcard is only allowed as the whole first label ("*.suffix")`,
			"validation.hostOverrides[2].addrs: must list at least one address",
			`validation.hostOverrides[3].pattern: "a b.test" contains ' '; only letters, digits, '-' and '_' are allowed`,
			"validation.hostOverrides[3].addrs[0]: is not an IP address",
			`validation.hostOverrides[4].pattern: "a..test" has an empty label or one longer than 63 bytes`,
			"validation.hostOverrides[4].addrs[0]: must not have a zone",
		}},
		{name: "negative timeouts", cfg: Config{LookupTimeout: -time.Second, HTTPTimeout: -1}, want: []string{
			"validation.lookupTimeout: must not be negative, got -1s",
			"validation.httpTimeout: must not be negative, got -1ns",
		}},
		{name: "bad redirect port map", cfg: Config{RedirectPortMap: map[int]int{8080: 1, 80: 0, 443: 65536}}, want: []string{
			"validation.redirectPortMap[80]: must map to 1-65535, got 0",
			"validation.redirectPortMap[443]: must map to 1-65535, got 65536",
			"validation.redirectPortMap[8080]: only ports 80 and 443 can be redirect targets, so only they can be mapped",
		}},
	}
	checkConfigCases(t, tests)
}

// TestConfigValidateDNSAndRules covers forward zones, delays, rules and CAA
// identities.
func TestConfigValidateDNSAndRules(t *testing.T) {
	checkConfigCases(t, []configCase{
		{name: "all set", cfg: Config{Forward: []Forward{{Zone: "fakeca.test", Server: "127.0.0.1:8053"}, {Zone: ".", Server: "[::1]:53"}},
			Delay: DelayRange{Min: time.Second, Max: 2 * time.Second}, CAAIdentities: []string{"letsencrypt.org", "Pebble.LetsEncrypt.org."},
			SkipCAA: true}},
		{name: "bad forward zones", cfg: Config{Forward: []Forward{
			{Zone: "fakeca.test", Server: "127.0.0.1:8053"},
			{Zone: "", Server: "127.0.0.1"},
			{Zone: "FakeCA.test.", Server: "127.0.0.1:53"},
			{Zone: "*.x.test", Server: "127.0.0.1:53"},
			{Zone: ".", Server: "127.0.0.1:53"},
		}}, want: []string{
			`validation.forward[1].zone: must not be empty (use "." for every name)`,
			`validation.forward[1].server: "127.0.0.1" is not host:port`,
			`validation.forward[2].zone: "FakeCA.test." is already forwarded by forward[0]`,
			`validation.forward[3].zone: "*.x.test": must be a DNS name without a wildcard`,
		}},
		{name: "bad delays", cfg: Config{Delay: DelayRange{Min: 2 * time.Second, Max: time.Second}}, want: []string{
			"validation.delay.max: must not be less than min (2s), got 1s",
		}},
		{name: "negative delays", cfg: Config{Delay: DelayRange{Min: -1, Max: -2}}, want: []string{
			"validation.delay.min: must not be negative, got -1ns",
			"validation.delay.max: must not be negative, got -2ns",
		}},
		{name: "good rules", cfg: Config{Rules: []Rule{{Pattern: "*.slow.test", Delay: &DelayRange{Min: time.Second}},
			{Pattern: "fast.test", AlwaysValid: new(bool)}, {Pattern: "::1", AlwaysValid: new(bool)}}}},
		{name: "bad rules", cfg: Config{Rules: []Rule{
			{Pattern: "a.*.test", AlwaysValid: new(bool)},
			{Pattern: "nothing.test"},
			{Pattern: "", Delay: &DelayRange{Max: -time.Second}},
		}}, want: []string{
			`validation.rules[0].pattern: "a.*.test": a wildcard is only allowed as the whole first label ("*.suffix")`,
			"validation.rules[1]: must set alwaysValid or delay",
			"validation.rules[2].pattern: must not be empty",
			"validation.rules[2].delay.max: must not be negative, got -1s",
		}},
		{name: "bad CAA identities", cfg: Config{CAAIdentities: []string{"letsencrypt.org", "", "*.ca.test", "c a.test"}}, want: []string{
			"validation.caaIdentities[1]: must not be empty",
			`validation.caaIdentities[2]: "*.ca.test": must be a DNS name without a wildcard`,
			`validation.caaIdentities[3]: "c a.test" contains ' '; only letters, digits, '-' and '_' are allowed`,
		}},
	})
}

func TestParseHostOverride(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() of the result
		wantErr string
	}{
		{in: "*.test=127.0.0.1", want: "*.test=127.0.0.1"},
		{in: " a.example = 127.0.0.1 , ::1 ", want: "a.example=127.0.0.1,::1"},
		{in: "a.example", wantErr: `host override "a.example": missing "=" (want pattern=addr[,addr...])`},
		{in: "=127.0.0.1", wantErr: `host override "=127.0.0.1": pattern: must not be empty`},
		{in: "*=127.0.0.1", wantErr: `host override "*=127.0.0.1": pattern: "*": a wildcard is only allowed as the whole first label ("*.suffix")`},
		{in: "a.test=", wantErr: `host override "a.test=": no addresses after "="`},
		{in: "a.test=127.0.0.1,localhost", wantErr: `host override "a.test=127.0.0.1,localhost": bad address "localhost"`},
		{in: "a.test=127.0.0.1,", wantErr: `host override "a.test=127.0.0.1,": bad address ""`},
		{in: "a.test=fe80::1%eth0", wantErr: `host override "a.test=fe80::1%eth0": address "fe80::1%eth0" must not have a zone`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var o HostOverride
			err := o.UnmarshalText([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := o.MarshalText(); string(b) != tt.want {
				t.Errorf("got %q, want %q", b, tt.want)
			}
			if err := (Config{HostOverrides: []HostOverride{o}}).Validate(); err != nil {
				t.Errorf("parsed override fails Validate: %v", err)
			}
		})
	}
}

func TestSystemResolvers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    []string
		wantErr bool
	}{
		{name: "two servers", path: write("ok", "search x\nnameserver 10.0.0.53\nnameserver ::1\n"), want: []string{"10.0.0.53:53", "[::1]:53"}},
		{name: "no nameserver", path: write("empty", "search x\n"), wantErr: true},
		{name: "missing file", path: filepath.Join(dir, "missing"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SystemResolvers(tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, wantErr %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	v := newValidator(t, Config{Resolvers: []string{"127.0.0.1:53"}})
	c := v.cfg
	if c.HTTP01Port != 80 || c.TLSALPN01Port != 443 || c.LookupTimeout != 10*time.Second || c.HTTPTimeout != 10*time.Second ||
		!slices.Equal(c.CAAIdentities, []string{"letsencrypt.org"}) || c.SkipCAA || c.Delay != (DelayRange{}) {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestIssuerDomainNames(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, []string{"letsencrypt.org"}},
		{[]string{"Pebble.LetsEncrypt.org.", "ca.test"}, []string{"pebble.letsencrypt.org", "ca.test"}},
	}
	for _, tt := range tests {
		if got := (Config{CAAIdentities: tt.in}).IssuerDomainNames(); !slices.Equal(got, tt.want) {
			t.Errorf("IssuerDomainNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
