package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/utils/clock"

	"github.com/fakeca/fakeca/dnsserver"
)

func TestChalltestsrvConfig(t *testing.T) {
	dir := t.TempDir()
	writeServingCert(t, dir)
	cert, key := filepath.Join(dir, "certs", "localhost", "cert.pem"), filepath.Join(dir, "certs", "localhost", "key.pem")
	missing := filepath.Join(dir, "missing.pem")
	tests := map[string]challtestsrvCase{
		"default -doh without certificate warns once and stays off": {
			wantWarn:  "warning: -doh :8443 needs -doh-cert and -doh-cert-key; DNS over HTTPS is off\n",
			wantNoDoH: true,
			check: func(t *testing.T, c dnsserver.Config) {
				if c.HTTPS01Listen != ":5003" {
					t.Errorf("https01 %q, want the default :5003", c.HTTPS01Listen)
				}
			},
		},
		"a missing key names its flag": {
			args:      []string{"-doh-cert", cert},
			wantWarn:  "warning: -doh :8443 needs -doh-cert-key; DNS over HTTPS is off\n",
			wantNoDoH: true,
		},
		"-doh \"\" is off without a warning": {args: []string{"-doh", "", "-https01", ""}, wantNoDoH: true,
			check: func(t *testing.T, c dnsserver.Config) {
				if c.HTTPS01Listen != "" {
					t.Errorf("https01 %q", c.HTTPS01Listen)
				}
			}},
		"DoH with certificate files": {args: []string{"-doh", "127.0.0.1:0", "-doh-cert", cert, "-doh-cert-key", key},
			check: func(t *testing.T, c dnsserver.Config) {
				if c.DoHListen != "127.0.0.1:0" || c.DoHCert != cert || c.DoHKey != key {
					t.Errorf("doh %q %q %q", c.DoHListen, c.DoHCert, c.DoHKey)
				}
			}},
		"unreadable certificate file names -doh-cert": {args: []string{"-doh-cert", missing, "-doh-cert-key", key},
			wantErr: "-doh-cert: open " + missing},
		"invalid key file names -doh-cert-key": {args: []string{"-doh-cert", cert, "-doh-cert-key", cert},
			wantErr: "-doh-cert-key: " + cert + ": tls:"},
		"comma-separated lists": {
			args: []string{"-doh", "", "-dnsserver", "127.0.0.1:8053, [::1]:8053", "-http01", ":5002,,:5012",
				"-https01", ":5003,:5013", "-tlsalpn01", ":5001,:5011", "-management", ":8055,:8065"},
			wantNoDoH: true,
			check: func(t *testing.T, c dnsserver.Config) {
				for _, l := range []struct{ field, want string }{{c.Listen, "127.0.0.1:8053 [::1]:8053"},
					{c.HTTP01Listen, ":5002 :5012"}, {c.HTTPS01Listen, ":5003 :5013"},
					{c.TLSALPN01Listen, ":5001 :5011"}, {c.ManagementListen, ":8055 :8065"}} {
					if got := strings.Join(dnsserver.ListenAddrs(l.field), " "); got != l.want {
						t.Errorf("%q parsed as %q, want %q", l.field, got, l.want)
					}
				}
			}},
		"a bad address in a list names the flag": {args: []string{"-doh", "", "-https01", ":5003,nope"},
			wantErr: `-https01: "nope" is not host:port`},
		"DoH addresses are checked": {args: []string{"-doh", ":8443,:8053", "-doh-cert", cert, "-doh-cert-key", key},
			wantErr: `-doh: ":8053" is already used by -dnsserver`},
	}
	for name, tc := range tests {
		t.Run(name, tc.run)
	}
}

// challtestsrvCase is one challtestsrvConfig test.
type challtestsrvCase struct {
	args      []string
	wantWarn  string // the whole warning output
	wantErr   string // prefix of the error
	check     func(t *testing.T, c dnsserver.Config)
	wantNoDoH bool
}

// run parses tc.args, checks the outcome and that dnsserver.New accepts
// the Config.
func (tc challtestsrvCase) run(t *testing.T) {
	var warn strings.Builder
	c, err := challtestsrvConfig(tc.args, &warn)
	if tc.wantErr != "" {
		if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
			t.Fatalf("error %v, want it to start with %q", err, tc.wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if warn.String() != tc.wantWarn {
		t.Errorf("warnings %q, want %q", warn.String(), tc.wantWarn)
	}
	if tc.wantNoDoH && (c.DoHListen != "" || c.DoHCert != "" || c.DoHKey != "") {
		t.Errorf("DoH on: %q %q %q", c.DoHListen, c.DoHCert, c.DoHKey)
	}
	if tc.check != nil {
		tc.check(t, c)
	}
	if _, err := dnsserver.New(c, dnsserver.Deps{Clock: clock.RealClock{}}); err != nil {
		t.Errorf("dnsserver.New: %v", err)
	}
}

// TestChalltestsrvServes starts the server challtestsrvConfig configures
// on two DNS addresses, HTTPS-01 and DoH, all on free loopback ports.
func TestChalltestsrvServes(t *testing.T) {
	dir := t.TempDir()
	writeServingCert(t, dir)
	certs := filepath.Join(dir, "certs", "localhost")
	c, err := challtestsrvConfig([]string{"-dnsserver", "127.0.0.1:0,127.0.0.1:0", "-http01", "", "-tlsalpn01", "",
		"-https01", "127.0.0.1:0", "-management", "127.0.0.1:0", "-doh", "127.0.0.1:0",
		"-doh-cert", filepath.Join(certs, "cert.pem"), "-doh-cert-key", filepath.Join(certs, "key.pem")}, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dnsserver.New(c, dnsserver.Deps{Clock: clock.RealClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	for name, want := range map[string]int{dnsserver.ListenerDNS: 2, dnsserver.ListenerHTTPS01: 1,
		dnsserver.ListenerDoH: 1, dnsserver.ListenerManagement: 1, dnsserver.ListenerHTTP01: 0} {
		if got := srv.ListenerAddrs(name); len(got) != want || slices.Contains(got, "") {
			t.Errorf("%s listens on %q, want %d addresses", name, got, want)
		}
	}
}

// TestLoadDoHKeyPair checks the DoH certificate files' errors: each names
// the YAML key of the file at fault.
func TestLoadDoHKeyPair(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	writeServingCert(t, dir)
	writeServingCert(t, other)
	cert, key := filepath.Join(dir, "certs", "localhost", "cert.pem"), filepath.Join(dir, "certs", "localhost", "key.pem")
	otherCert := filepath.Join(other, "certs", "localhost", "cert.pem")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct{ name, cert, key, want string }{
		{name: "valid", cert: cert, key: key},
		{name: "missing certificate", cert: missing, key: key, want: "dns.dohCert: open " + missing},
		{name: "key instead of certificate", cert: key, key: key, want: "dns.dohCert: " + key + ": no PEM CERTIFICATE block"},
		{name: "missing key", cert: cert, key: missing, want: "dns.dohKey: open " + missing},
		{name: "key of another certificate", cert: otherCert, key: key, want: "dns.dohKey: " + key + ": tls: private key does not match public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dnsserver.Config{DoHListen: "127.0.0.1:0", DoHCert: tt.cert, DoHKey: tt.key}
			err := loadDoHKeyPair(&c)
			if (tt.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("loadDoHKeyPair: %v, want %q", err, tt.want)
			}
			if (err == nil) != (c.DoHKeyPair != nil) {
				t.Errorf("DoHKeyPair %v with error %v", c.DoHKeyPair, err)
			}
		})
	}
}
