package dnsserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
)

// These tests drive cert-manager v1.21.2's own DNS-01 code against the
// server: the rfc2136 provider (what the controller runs in-process for an
// Issuer with `rfc2136:`), the SOA walk that finds the zone, and the
// propagation check with --dns01-recursive-nameservers-only.

// cmCase is one Present/CleanUp round of cert-manager's rfc2136 provider.
type cmCase struct {
	name           string
	server         *Server
	alg, key, sec  string // the Issuer's tsigAlgorithm, tsigKeyName and secret
	network        string // the Issuer's protocol ("" = UDP)
	zone           string // default: what util.FindZoneByFqdn finds
	wantPresentErr string // the error cert-manager would show
}

// cmCases pairs a server with keys for every algorithm and one without.
func cmCases(signed, open *Server) []cmCase {
	const wrongSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="
	tests := []cmCase{
		{name: "no TSIG, server without keys", server: open},
		{name: "no TSIG over TCP", server: open, network: "TCP"},
		{name: "default algorithm (hmac-md5)", server: signed, key: "hmacmd5-key", sec: testSecret},
		{name: "unsigned to a server with keys", server: signed,
			wantPresentErr: "DNS update failed. Server replied: REFUSED"},
		{name: "wrong secret", server: signed, alg: "HMACSHA256", key: "hmacsha256-key", sec: wrongSecret,
			wantPresentErr: "DNS update failed: dns: bad authentication"},
		{name: "unknown key", server: signed, alg: "HMACSHA256", key: "nobody", sec: testSecret,
			wantPresentErr: "DNS update failed: dns: bad authentication"},
		{name: "zone not served, unsigned", server: open, zone: "example.org.",
			wantPresentErr: "DNS update failed. Server replied: NOTAUTH"},
		{name: "zone not served, signed", server: signed, alg: "HMACSHA512", key: "hmacsha512-key", sec: testSecret, zone: "example.org.",
			wantPresentErr: "DNS update failed. Server replied: NOTAUTH"},
	}
	for _, alg := range cmAlgorithms() {
		for _, network := range []string{"UDP", "TCP"} {
			tests = append(tests, cmCase{name: alg + " over " + network, server: signed, alg: alg,
				key: strings.ToLower(alg) + "-key", sec: testSecret, network: network})
		}
	}
	return tests
}

// cmAlgorithms are the TSIG algorithms as a cert-manager Issuer spells them.
func cmAlgorithms() []string { return []string{"HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"} }

func TestCertManagerRFC2136(t *testing.T) {
	var keys []TSIGKey
	for _, alg := range cmAlgorithms() {
		keys = append(keys, TSIGKey{Name: strings.ToLower(alg) + "-key", Algorithm: alg, Secret: testSecret})
	}
	signed, _ := testServer(t, func(c *Config) { c.TSIG = keys })
	open, _ := testServer(t, nil)
	for i, tt := range cmCases(signed, open) {
		t.Run(tt.name, func(t *testing.T) {
			ns := []string{tt.server.Addr()}
			// Unique names: util caches zones per FQDN process-wide.
			fqdn := fmt.Sprintf("_acme-challenge.cm%d.sub.example.test.", i)
			value := fmt.Sprintf("key-authorization-digest-%d", i)
			p, err := rfc2136.NewDNSProviderCredentials(tt.server.Addr(), tt.alg, tt.key, tt.sec, rfc2136.WithNetwork(tt.network))
			if err != nil {
				t.Fatal(err)
			}
			zone := tt.zone
			if zone == "" {
				if zone, err = util.FindZoneByFqdn(t.Context(), fqdn, ns); err != nil || zone != "example.test." {
					t.Fatalf("FindZoneByFqdn = %q, %v; want example.test.", zone, err)
				}
			}
			err = p.Present("cm.sub.example.test", fqdn, zone, value)
			if tt.wantPresentErr != "" {
				if err == nil || err.Error() != tt.wantPresentErr {
					t.Fatalf("Present error %v, want %q", err, tt.wantPresentErr)
				}
				if got := txtAt(t, tt.server.Addr(), fqdn); len(got) != 0 {
					t.Errorf("TXT after a failed Present: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Present: %v", err)
			}
			if ok, err := util.PreCheckDNS(t.Context(), fqdn, value, ns, false); !ok || err != nil {
				t.Errorf("propagation check after Present = %v, %v; want true", ok, err)
			}
			if err := p.CleanUp("cm.sub.example.test", fqdn, zone, value); err != nil {
				t.Fatalf("CleanUp: %v", err)
			}
			if ok, err := util.PreCheckDNS(t.Context(), fqdn, value, ns, false); ok || err != nil {
				t.Errorf("propagation check after CleanUp = %v, %v; want false", ok, err)
			}
			if got := txtAt(t, tt.server.Addr(), fqdn); len(got) != 0 {
				t.Errorf("TXT after CleanUp: %q", got)
			}
		})
	}
}

func TestCertManagerDNSUtil(t *testing.T) {
	s, _ := testServer(t, nil)
	ns := []string{s.Addr()}
	r := s.Records()
	for _, err := range []error{
		r.SetCNAME("_acme-challenge.alias.example.test", "_acme-challenge.delegated.example.com"),
		r.SetTXT("www.example.test", "occupied"),
		r.AddA("cname-zone.example.test", "192.0.2.1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	zones := map[string]string{
		"apex itself":                     "example.test.",
		"name below an existing name":     "_acme-challenge.www.example.test.",
		"deep nonexistent name":           "_acme-challenge.a.b.c.example.test.",
		"other configured zone":           "_acme-challenge.x.example.com.",
		"built-in zone test.":             "_acme-challenge.elsewhere.test.",
		"CNAME owner is not a zone apex":  "_acme-challenge.alias.example.test.",
		"mixed case is answered as asked": "_acme-challenge.MIXED.Example.Test.",
	}
	want := map[string]string{
		"apex itself": "example.test.", "name below an existing name": "example.test.", "deep nonexistent name": "example.test.",
		"other configured zone": "example.com.", "built-in zone test.": "test.", "CNAME owner is not a zone apex": "example.test.",
		"mixed case is answered as asked": "Example.Test.",
	}
	for name, fqdn := range zones {
		t.Run("FindZoneByFqdn/"+name, func(t *testing.T) {
			got, err := util.FindZoneByFqdn(t.Context(), fqdn, ns)
			if err != nil || got != want[name] {
				t.Errorf("FindZoneByFqdn(%s) = %q, %v; want %q", fqdn, got, err, want[name])
			}
		})
	}
	t.Run("FindZoneByFqdn/outside every zone", func(t *testing.T) {
		_, err := util.FindZoneByFqdn(t.Context(), "_acme-challenge.example.org.", ns)
		if err == nil || !strings.Contains(err.Error(), "Could not find the SOA record in the DNS tree") {
			t.Errorf("err = %v, want cert-manager's no-SOA error", err)
		}
	})
	t.Run("DNS01LookupFQDN follows the CNAME", func(t *testing.T) {
		got, err := util.DNS01LookupFQDN(t.Context(), "alias.example.test", true, ns...)
		if err != nil || got != "_acme-challenge.delegated.example.com." {
			t.Errorf("DNS01LookupFQDN = %q, %v", got, err)
		}
	})
	t.Run("propagation check through the CNAME", func(t *testing.T) {
		if err := r.SetTXT("_acme-challenge.delegated.example.com", "v1"); err != nil {
			t.Fatal(err)
		}
		ok, err := util.PreCheckDNS(t.Context(), "_acme-challenge.alias.example.test.", "v1", ns, false)
		if !ok || err != nil {
			t.Errorf("PreCheckDNS = %v, %v; want true", ok, err)
		}
	})
	t.Run("NS of the zone as cert-manager asks for it", func(t *testing.T) {
		m, err := util.DNSQuery(t.Context(), "example.test.", 2 /* NS */, ns, true)
		if err != nil || !slices.Equal(texts(m.Answer), []string{"example.test. 60 IN NS ns1.example.test."}) {
			t.Errorf("NS answer %v, %v", m, err)
		}
	})
	t.Run("SERVFAIL stops the propagation check with cert-manager's error", func(t *testing.T) {
		if err := r.SetServFail("_acme-challenge.sf.example.test"); err != nil {
			t.Fatal(err)
		}
		_, err := util.PreCheckDNS(t.Context(), "_acme-challenge.sf.example.test.", "v", ns, false)
		want := fmt.Sprintf("NS %s returned SERVFAIL for _acme-challenge.sf.example.test.", s.Addr())
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}
