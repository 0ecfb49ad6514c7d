package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
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

// TestChalltestsrvProcess runs `pebble-challtestsrv` with every listener
// on, two HTTP-01 and two DNS addresses, and checks each through its
// protocol: HTTP-01 on both addresses, HTTPS-01, DNS over UDP on both
// addresses and DNS over HTTPS.
func TestChalltestsrvProcess(t *testing.T) {
	dir := t.TempDir()
	pool := writeServingCert(t, dir)
	h1, h2, hs, d1, d2, doh, alpn, mgmt := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t),
		freePort(t), freePort(t), freePort(t)
	startProc(t, fakecaBinary(t), "pebble-challtestsrv", dir, []string{}, addr(mgmt),
		"-http01", addr(h1)+","+addr(h2), "-https01", addr(hs), "-dnsserver", addr(d1)+","+addr(d2),
		"-doh", addr(doh), "-doh-cert", "certs/localhost/cert.pem", "-doh-cert-key", "certs/localhost/key.pem",
		"-tlsalpn01", addr(alpn), "-management", addr(mgmt), "-defaultIPv4", "192.0.2.7")
	r := &pebbleRig{chall: "http://" + addr(mgmt)}
	r.challtest(t, "/add-http01", map[string]string{"token": "tok", "content": "tok.thumb"})
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // #nosec G402 -- self-signed responder
	for _, u := range []string{"http://" + addr(h1), "http://" + addr(h2), "https://" + addr(hs)} {
		resp, err := insecure.Get(u + "/.well-known/acme-challenge/tok")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "tok.thumb" {
			t.Errorf("%s: %q", u, b)
		}
	}
	q := new(dns.Msg).SetQuestion("anything.example.test.", dns.TypeA)
	for _, a := range []string{addr(d1), addr(d2)} {
		in, err := dns.Exchange(q, a)
		if err != nil || len(in.Answer) != 1 || in.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
			t.Errorf("UDP %s: %v %v", a, in, err)
		}
	}
	raw, _ := q.Pack()
	doHClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := doHClient.Post("https://"+addr(doh)+"/dns-query", "application/dns-message", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	in := new(dns.Msg)
	if err := in.Unpack(b); err != nil || len(in.Answer) != 1 || in.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
		t.Errorf("DoH: %s %v %v", resp.Status, in, err)
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
