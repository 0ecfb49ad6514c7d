package main

import (
	"context"
	"crypto/ecdsa"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/acme"
)

// TestPebbleFakecaSection: a "fakeca" object next to "pebble" in the
// config file carries fakeca's own keys, applied on top of the Pebble
// settings; the extra listeners open only when it names them.
func TestPebbleFakecaSection(t *testing.T) {
	dir := t.TempDir()
	writeServingCert(t, dir)
	base := `"pebble":{"listenAddress":"127.0.0.1:14000","certificate":"certs/localhost/cert.pem","privateKey":"certs/localhost/key.pem"}`
	tests := []struct {
		name, fakeca, wantErr string
		check                 func(t *testing.T, dataDir string, noHTTP, dns bool, preset string)
	}{
		{name: "absent: Pebble's listeners and limits only", check: func(t *testing.T, dataDir string, noHTTP, dns bool, preset string) {
			if dataDir != "" || !noHTTP || dns || preset != "off" {
				t.Errorf("dataDir %q, no HTTP %v, DNS %v, rate limits %q", dataDir, noHTTP, dns, preset)
			}
		}},
		{name: "persistence, limits, HTTP and DNS on top",
			fakeca: `{"dataDir":"state","rateLimits":{"preset":"letsencrypt-staging"},"httpListen":"127.0.0.1:0","dns":{"listen":"127.0.0.1:0"}}`,
			check: func(t *testing.T, dataDir string, noHTTP, dns bool, preset string) {
				if dataDir != "state" || noHTTP || !dns || preset != "letsencrypt-staging" {
					t.Errorf("dataDir %q, no HTTP %v, DNS %v, rate limits %q", dataDir, noHTTP, dns, preset)
				}
			}},
		{name: "unknown key", fakeca: `{"dataDri":"x"}`, wantErr: "field dataDri not found"},
		{name: "preset refused", fakeca: `{"preset":"permissive"}`, wantErr: "fakeca.preset: not used by fakeca pebble"},
		{name: "bad value names the key", fakeca: `{"rateLimits":{"preset":"nope"}}`, wantErr: `rateLimits.preset: unknown preset "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "{" + base + "}"
			if tt.fakeca != "" {
				raw = "{" + base + `,"fakeca":` + tt.fakeca + "}"
			}
			path := filepath.Join(dir, "pebble.json")
			if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			var warn strings.Builder
			icfg, err := pebbleInstanceConfig("pebble.json", "", false, func(string) string { return "" }, &warn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || warn.Len() > 0 {
				t.Fatalf("err %v, warnings %q", err, warn.String())
			}
			tt.check(t, icfg.DataDir, icfg.NoHTTPListener, icfg.DNS != nil, icfg.RateLimits.Preset)
		})
	}
}

// TestPebbleFakecaSectionWins: the section comes after the PEBBLE_*
// variables and their defaults, so its values win, and its fault rules
// follow the ones the variables make.
func TestPebbleFakecaSectionWins(t *testing.T) {
	dir := t.TempDir()
	writeServingCert(t, dir)
	raw := `{"pebble":{"listenAddress":"127.0.0.1:14000","certificate":"certs/localhost/cert.pem","privateKey":"certs/localhost/key.pem"},
	  "fakeca":{"chainLength":3,"leafIssuer":"ecdsa","ca":{"ordersPerPage":7,"authzReusePercent":10},
	    "faults":{"rules":[{"name":"slow-orders","match":{"operation":"new-order"},"action":{"delay":"1ms"}}]}}}`
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	env := map[string]string{envChainLength: "2", "PEBBLE_WFE_NONCEREJECT": "10"}
	icfg, err := pebbleInstanceConfig("pebble.json", "", false, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, r := range icfg.Faults.Rules {
		rules = append(rules, r.Name)
	}
	if icfg.PKI.ChainLength != 3 || icfg.PKI.LeafIssuer != "ecdsa" || icfg.CA.OrdersPerPage != 7 ||
		icfg.CA.AuthzReusePercent != 10 || len(rules) < 2 || rules[len(rules)-1] != "slow-orders" {
		t.Errorf("chain %d, leaf issuer %q, orders per page %d, authz reuse %d, rules %v",
			icfg.PKI.ChainLength, icfg.PKI.LeafIssuer, icfg.CA.OrdersPerPage, icfg.CA.AuthzReusePercent, rules)
	}
}

// TestPebbleWithFakecaExtras runs `pebble` with a "fakeca" section asking
// for a data directory, Let's Encrypt staging's rate limits with a small
// new-orders limit, and the plain-HTTP listener: the account survives a
// SIGKILL and restart, the third order is refused with Boulder's 429, and
// the CRL of the issuer is served.
func TestPebbleWithFakecaExtras(t *testing.T) {
	if os.Getenv("PEBBLE_COMPAT") != "" {
		t.Skip("fakeca's extras; Pebble ignores the fakeca section (scripts/pebble-compat-test.sh)")
	}
	httpPort := freePort(t)
	extras := map[string]any{"fakeca": map[string]any{"dataDir": "state", "httpListen": addr(httpPort),
		"rateLimits": map[string]any{"preset": "letsencrypt-staging", "limits": []any{map[string]any{
			"NewOrdersPerAccount": map[string]any{"burst": 2, "count": 2, "period": "3h"}}}}}}
	r := startPebbleRigTop(t, nil, extras, pebbleEnv("PEBBLE_VA_ALWAYS_VALID=1"))
	cl := r.client(t)
	ctx := context.Background()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	r.issue(t, cl, "one.example.test", "http-01")

	r.restartPebble(t)
	if _, err := cl.GetReg(ctx, ""); err != nil {
		t.Fatalf("account after SIGKILL and restart: %v", err)
	}
	if _, err := cl.AuthorizeOrder(ctx, acme.DomainIDs("two.example.test")); err != nil {
		t.Fatal(err)
	}
	// x/crypto/acme would retry a 429 until its context ends: post directly.
	code, b, _ := postJWS(t, r, cl.Key.(*ecdsa.PrivateKey), map[string]any{"kid": string(cl.KID)}, r.acme+"/order-plz",
		map[string]any{"identifiers": acme.DomainIDs("three.example.test")})
	if code != http.StatusTooManyRequests || !strings.Contains(string(b), "too many new orders (2) from this account in the last 3h0m0s") {
		t.Fatalf("third order: %d %s, want the NewOrdersPerAccount 429", code, b)
	}
	resp, err := http.Get("http://" + addr(httpPort) + "/crl/e1/1.crl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("CRL: %s, %d bytes", resp.Status, len(body))
	}
}
