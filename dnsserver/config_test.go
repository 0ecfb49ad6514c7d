package dnsserver

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decodeFile decodes a testdata file the way fakeca's config loader does:
// strictly, over DefaultConfig, under the key "dns".
func decodeFile(t *testing.T, path string) (Config, string, error) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	want, _ := strings.CutPrefix(first, "# want: ")
	doc := struct {
		DNS Config `yaml:"dns"`
	}{DNS: DefaultConfig()}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return doc.DNS, want, err
	}
	return doc.DNS, want, doc.DNS.Validate()
}

func TestConfigFiles(t *testing.T) {
	t.Run("good.yaml", func(t *testing.T) {
		cfg, _, err := decodeFile(t, "testdata/good.yaml")
		if err != nil {
			t.Fatalf("good.yaml: %v", err)
		}
		if len(cfg.TSIG) != 2 || cfg.DefaultIPv6 != "2001:db8::1" || cfg.ManagementListen != "127.0.0.1:8055" ||
			len(ListenAddrs(cfg.Listen)) != 2 || cfg.DoHKey != "testdata/doh-key.pem" {
			t.Errorf("decoded %+v", cfg)
		}
	})
	files, _ := filepath.Glob("testdata/bad_*.yaml")
	if len(files) < 15 {
		t.Fatalf("only %d bad_*.yaml files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, want, err := decodeFile(t, f)
			if want == "" {
				t.Fatal(`the file must start with "# want: <error>"`)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "MDEy") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		want []string
	}{
		{name: "defaults are valid", cfg: func(*Config) {}},
		{name: "port 0 everywhere is valid", cfg: func(c *Config) {
			c.Listen, c.HTTP01Listen, c.TLSALPN01Listen, c.ManagementListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		}},
		{name: "defaults off", cfg: func(c *Config) { c.DefaultIPv4, c.DefaultIPv6, c.ManagementListen = "", "", "" }},
		{name: "comma-separated addresses, empty entries skipped", cfg: func(c *Config) {
			c.Listen, c.HTTP01Listen, c.HTTPS01Listen = " 127.0.0.1:0, 127.0.0.1:0,", "127.0.0.1:5002,[::1]:5002", ",127.0.0.1:5003"
		}},
		{name: "one bad address in a list", cfg: func(c *Config) { c.TLSALPN01Listen = "127.0.0.1:5001, 5001" },
			want: []string{`dns.tlsalpn01Listen: "5001" is not host:port`}},
		{name: "DoH needs a certificate and a key", cfg: func(c *Config) { c.DoHListen = "127.0.0.1:8443" },
			want: []string{"dns.dohCert: required when dns.dohListen is set", "dns.dohKey: required when dns.dohListen is set"}},
		{name: "DoH files without DoH are ignored", cfg: func(c *Config) { c.DoHCert = "cert.pem" }},
		{name: "challtestsrv answers serve no zone and take no key", cfg: func(c *Config) {
			c.ChalltestsrvAnswers, c.Zones = true, []string{"example.com"}
			c.TSIG = []TSIGKey{{Name: "k.", Algorithm: "hmac-sha256", Secret: testSecret}}
		}, want: []string{
			"dns.zones: must be empty with dns.challtestsrvAnswers (pebble-challtestsrv serves no zone)",
			"dns.tsig: must be empty with dns.challtestsrvAnswers (pebble-challtestsrv takes no updates)",
		}},
		{name: "every problem is reported", cfg: func(c *Config) {
			c.Listen = ""
			c.Zones = []string{"*.test", "ok.test", "OK.test."}
			c.TSIG = []TSIGKey{{Name: "k", Algorithm: "md5", Secret: "!!"}}
			c.DefaultIPv4 = "1.2.3.4.5"
		}, want: []string{
			"dns.listen: must not be empty",
			`dns.zones[0]: "*.test" is not a domain name`,
			"dns.zones[2]: duplicate of dns.zones[1]",
			`dns.tsig[0].algorithm: "md5" is not one of hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512`,
			"dns.tsig[0].secret: is not standard base64 with padding (RFC 4648 §4)",
			`dns.defaultIPv4: "1.2.3.4.5" is not an IP address`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.cfg(&cfg)
			var got []string
			if err := cfg.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseTSIGFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    TSIGKey
		wantErr string
	}{
		{in: "cert-manager.:hmac-sha256:" + testSecret, want: TSIGKey{Name: "cert-manager.", Algorithm: "hmac-sha256", Secret: testSecret}},
		{in: "k:HMACMD5:" + testSecret, want: TSIGKey{Name: "k", Algorithm: "HMACMD5", Secret: testSecret}},
		{in: "k:hmac-sha1", wantErr: "--tsig: want NAME:ALGORITHM:BASE64SECRET, got 2 field(s)"},
		{in: ":hmac-sha1:" + testSecret, wantErr: "--tsig name: must not be empty"},
		{in: "k:sha1:" + testSecret, wantErr: `--tsig algorithm: "sha1" is not one of hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512`},
		{in: "k:hmac-sha1:secret!", wantErr: "--tsig secret: is not standard base64 with padding (RFC 4648 §4)"},
		{in: "k:hmac-sha1:", wantErr: "--tsig secret: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTSIGFlag(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseTSIGFlag = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
