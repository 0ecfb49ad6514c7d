package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/ca"
)

func TestParsePebbleConfig(t *testing.T) {
	tests := map[string]struct {
		json, wantErr string
		check         func(t *testing.T, c pebbleConfig, unknown []string)
	}{
		"Pebble README camelCase keys": {json: `{"pebble":{"listenAddress":"0.0.0.0:14000","httpPort":5002,"caaIdentities":["x.example"]}}`,
			check: func(t *testing.T, c pebbleConfig, _ []string) {
				if c.ListenAddress != "0.0.0.0:14000" || c.HTTPPort != 5002 || c.CAAIdentities[0] != "x.example" {
					t.Errorf("got %+v", c)
				}
			}},
		"PascalCase keys match too": {json: `{"Pebble":{"ListenAddress":"a:1","HTTPPort":5,"TLSPort":6,"ManagementListenAddress":"b:2"}}`,
			check: func(t *testing.T, c pebbleConfig, _ []string) {
				if c.ListenAddress != "a:1" || c.HTTPPort != 5 || c.TLSPort != 6 || c.ManagementListenAddress != "b:2" {
					t.Errorf("got %+v", c)
				}
			}},
		"unknown keys are returned": {json: `{"pebble":{"listenAddress":"a:1","zeta":1,"alpha":true},"other":{}}`,
			check: func(t *testing.T, _ pebbleConfig, unknown []string) {
				if strings.Join(unknown, ",") != "other,pebble.alpha,pebble.zeta" {
					t.Errorf("unknown = %v", unknown)
				}
			}},
		"profiles and retryAfter": {json: `{"pebble":{"profiles":{"short":{"Description":"d","ValidityPeriod":60}},"retryAfter":{"authz":3,"order":5}}}`,
			check: func(t *testing.T, c pebbleConfig, _ []string) {
				if c.Profiles["short"].ValidityPeriod != 60 || c.RetryAfter.Order != 5 {
					t.Errorf("got %+v", c)
				}
			}},
		"wrong type names the key":        {json: `{"pebble":{"httpPort":"5002"}}`, wantErr: `pebble.httpPort: want a number, got a string "5002"`},
		"wrong bool names the key":        {json: `{"pebble":{"externalAccountBindingRequired":"yes"}}`, wantErr: "pebble.externalAccountBindingRequired: want a boolean"},
		"wrong nested type names the key": {json: `{"pebble":{"profiles":{"a":{},"p":{"validityPeriod":"x"}}}}`, wantErr: "pebble.profiles.p.validityPeriod: want a number, got string"},
		"listenAddress as a number":       {json: `{"pebble":{"listenAddress":14000}}`, wantErr: "pebble.listenAddress: want a string, got a number 14000"},
		"ocspResponderURL as a boolean":   {json: `{"pebble":{"ocspResponderURL":true}}`, wantErr: "pebble.ocspResponderURL: want a string, got a boolean true"},
		"externalAccountMACKeys as a list": {json: `{"pebble":{"externalAccountMACKeys":["a"]}}`,
			wantErr: "pebble.externalAccountMACKeys: want an object of strings, got an array"},
		"retryAfter.order as a string": {json: `{"pebble":{"retryAfter":{"order":"5"}}}`, wantErr: "pebble.retryAfter.order: want a number, got string"},
		"no pebble object":             {json: `{"boulder":{}}`, wantErr: `no "pebble" object`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, unknown, err := parsePebbleConfig([]byte(tc.json))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, unknown)
		})
	}
}

func TestPebbleCAConfig(t *testing.T) {
	base, _ := defaults("pebble")
	tests := map[string]struct {
		in    pebbleConfig
		check func(t *testing.T, c ca.Config)
	}{
		"defaults follow Pebble": {check: func(t *testing.T, c ca.Config) {
			if c.Paths != ca.PathsPebble || !c.RequireUserAgent || c.CAAIdentities[0] != "pebble.letsencrypt.org" ||
				c.Profiles["default"].Validity != 90*24*time.Hour || c.DefaultProfile != "default" {
				t.Errorf("got %+v", c)
			}
		}},
		"blocklist matches by suffix": {in: pebbleConfig{DomainBlocklist: []string{"blocked.example"}},
			check: func(t *testing.T, c ca.Config) {
				if c.Policy.Blocklist[0] != "*.blocked.example" {
					t.Errorf("blocklist = %v", c.Policy.Blocklist)
				}
			}},
		"retryAfter is seconds": {in: pebbleConfig{RetryAfter: struct{ Authz, Order int }{Authz: 3, Order: 5}},
			check: func(t *testing.T, c ca.Config) {
				if c.RetryAfterAuthz != 3*time.Second || c.RetryAfterOrder != 5*time.Second {
					t.Errorf("authz %s, order %s", c.RetryAfterAuthz, c.RetryAfterOrder)
				}
			}},
		"no retryAfter sends none, as Pebble": {check: func(t *testing.T, c ca.Config) {
			if c.RetryAfterAuthz != 0 || c.RetryAfterOrder != 0 {
				t.Errorf("authz %s, order %s", c.RetryAfterAuthz, c.RetryAfterOrder)
			}
		}},
		"validityPeriod is seconds": {in: pebbleConfig{Profiles: map[string]pebbleProfile{"s": {ValidityPeriod: 3600}}},
			check: func(t *testing.T, c ca.Config) {
				if c.Profiles["s"].Validity != time.Hour || c.DefaultProfile != "s" {
					t.Errorf("got %+v", c.Profiles)
				}
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := tc.in.caConfig(*base.CA, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestChalltestsrvFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		check   func(t *testing.T, listen, http01, tlsalpn, mgmt string)
		wantErr bool
	}{
		"challtestsrv defaults": {check: func(t *testing.T, l, h, a, m string) {
			if l != ":8053" || h != ":5002" || a != ":5001" || m != ":8055" {
				t.Errorf("got %s %s %s %s", l, h, a, m)
			}
		}},
		"empty value disables": {args: []string{"-http01", "", "-tlsalpn01", ""}, check: func(t *testing.T, _, h, a, _ string) {
			if h != "" || a != "" {
				t.Errorf("http01 %q tlsalpn01 %q", h, a)
			}
		}},
		"older -dns01 and host names": {args: []string{"-dns01", "localhost:8553"}, check: func(t *testing.T, l, _, _, _ string) {
			if l != "localhost:8553" {
				t.Errorf("dns = %q", l)
			}
		}},
		"unknown flag is an error": {args: []string{"-nope"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := challtestsrvConfig(tc.args, io.Discard)
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v", err)
			}
			if err == nil {
				tc.check(t, c.Listen, c.HTTP01Listen, c.TLSALPN01Listen, c.ManagementListen)
			}
		})
	}
}

// TestPebbleChainEnv checks PEBBLE_CHAIN_LENGTH, PEBBLE_ALTERNATE_ROOTS,
// PEBBLE_WFE_ORDERS_PER_PAGE and keyAlgorithm: Pebble's defaults when
// unset, the values when set, and errors naming the variable.
func TestPebbleChainEnv(t *testing.T) {
	tests := []struct {
		name, keyAlg string
		env          map[string]string
		want         string // "chain alt perPage leafIssuer" or an error
	}{
		{"Pebble's defaults", "", nil, "1 0 3 rsa"},
		{"set", "ECDSA", map[string]string{envChainLength: "3", envAlternateRoots: " 2 ", envOrdersPerPage: "10"}, "3 2 10 ecdsa"},
		{"chain length 0 (Pebble panics)", "", map[string]string{envChainLength: "0"}, `PEBBLE_CHAIN_LENGTH: "0" is not an integer from 1 to 16`},
		{"alternate roots not a number", "", map[string]string{envAlternateRoots: "two"}, `PEBBLE_ALTERNATE_ROOTS: "two" is not an integer from 0 to 16`},
		{"zero orders per page", "", map[string]string{envOrdersPerPage: "0"}, `PEBBLE_WFE_ORDERS_PER_PAGE: "0" is not an integer from 1 to 2147483647`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc, _ := defaults("pebble")
			err := pebbleChainEnv(&fc, tc.keyAlg, func(k string) string { return tc.env[k] })
			got := fmt.Sprintf("%d %d %d %s", fc.ChainLength, fc.AlternateRoots, fc.CA.OrdersPerPage, fc.LeafIssuer)
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
