package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// TestPebbleConventions checks Pebble's observable conventions a harness
// may rely on, through one `pebble` process: the directory, a missing
// User-Agent, profiles (validity as configured, an unknown one refused),
// the domain blocklist, wildcards by dns-01, authorization deactivation,
// account key rollover and deactivation. scripts/pebble-compat-test.sh
// runs it against Pebble itself.
func TestPebbleConventions(t *testing.T) {
	r := startPebbleRig(t, nil, pebbleEnv("PEBBLE_VA_ALWAYS_VALID=1"))
	t.Run("directory", func(t *testing.T) { pebbleDirectory(t, r) })
	t.Run("User-Agent required", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, r.acme+"/dir", nil)
		req.Header["User-Agent"] = nil
		resp, err := r.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("no User-Agent: %s, want 400", resp.Status)
		}
	})
	cl := r.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	t.Run("profiles", func(t *testing.T) { pebbleProfiles(t, r, cl) })
	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			order   map[string]any
			problem string
		}{
			"blocklisted name": {map[string]any{"identifiers": []acme.AuthzID{{Type: "dns", Value: "www.blocked-domain.example"}}},
				"rejectedIdentifier"},
			"unknown profile": {map[string]any{"identifiers": []acme.AuthzID{{Type: "dns", Value: "p.example.test"}}, "profile": "nope"},
				"invalidProfile"},
		} {
			code, b, _ := postJWS(t, r, cl.Key.(*ecdsa.PrivateKey), map[string]any{"kid": string(cl.KID)}, r.acme+"/order-plz", tc.order)
			if code != http.StatusBadRequest || !strings.Contains(string(b), "urn:ietf:params:acme:error:"+tc.problem) {
				t.Errorf("%s: %d %s, want 400 %s", name, code, b, tc.problem)
			}
		}
	})
	t.Run("wildcard by dns-01", func(t *testing.T) {
		chain, _, _ := r.issue(t, cl, "*.wild.example.test", "dns-01")
		if leaf, err := x509.ParseCertificate(chain[0]); err != nil || !slices.Contains(leaf.DNSNames, "*.wild.example.test") {
			t.Errorf("leaf %v %v", leaf.DNSNames, err)
		}
	})
	t.Run("authz deactivation", func(t *testing.T) {
		o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs("deact.example.test"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.RevokeAuthorization(ctx, o.AuthzURLs[0]); err != nil {
			t.Fatal(err)
		}
		if z, err := cl.GetAuthorization(ctx, o.AuthzURLs[0]); err != nil || z.Status != acme.StatusDeactivated {
			t.Errorf("authz after deactivation: %+v %v", z, err)
		}
	})
	t.Run("key rollover and account deactivation", func(t *testing.T) {
		other := r.client(t)
		if err := cl.AccountKeyRollover(ctx, other.Key); err != nil {
			t.Fatal(err)
		}
		other.KID = cl.KID
		if _, err := other.GetReg(ctx, ""); err != nil {
			t.Fatalf("account under the new key: %v", err)
		}
		if err := other.DeactivateReg(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := other.AuthorizeOrder(ctx, acme.DomainIDs("after.example.test"))
		var ae *acme.Error
		if !errors.As(err, &ae) || !strings.HasSuffix(ae.ProblemType, ":unauthorized") {
			t.Errorf("order by a deactivated account: %v, want unauthorized", err)
		}
	})
}

// pebbleDirectory checks the directory's resources and meta.
func pebbleDirectory(t *testing.T, r *pebbleRig) {
	resp, err := r.http.Get(r.acme + "/dir")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dir map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		t.Fatal(err)
	}
	for key, path := range map[string]string{"newNonce": "/nonce-plz", "newAccount": "/sign-me-up",
		"newOrder": "/order-plz", "revokeCert": "/revoke-cert", "keyChange": "/rollover-account-key",
		"renewalInfo": "/draft-ietf-acme-ari-03/renewalInfo"} {
		var u string
		if json.Unmarshal(dir[key], &u) != nil || u != r.acme+path {
			t.Errorf("%s = %s, want %s", key, dir[key], r.acme+path)
		}
	}
	var meta struct {
		TermsOfService          string
		ExternalAccountRequired bool
		Profiles                map[string]string
	}
	if err := json.Unmarshal(dir["meta"], &meta); err != nil || meta.TermsOfService == "" ||
		meta.Profiles["default"] != "The profile you know and love" || meta.Profiles["shortlived"] != "short" {
		t.Errorf("meta %s (%v)", dir["meta"], err)
	}
}

// pebbleProfiles issues under each configured profile and checks the
// validity: validityPeriod seconds (NotAfter = NotBefore + period - 1 s).
func pebbleProfiles(t *testing.T, r *pebbleRig, cl *acme.Client) {
	for profile, want := range map[string]time.Duration{"default": 7776000 * time.Second, "shortlived": 518400 * time.Second} {
		chain, _, _ := r.issue(t, cl, profile+".example.test", "http-01", acme.WithOrderIssuanceProfile(acme.ProfileName(profile)))
		leaf, _ := x509.ParseCertificate(chain[0])
		if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != want {
			t.Errorf("%s: validity %s, want %s", profile, got, want)
		}
	}
}
