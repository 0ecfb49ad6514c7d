package challengeval

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
)

func TestNew(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Time{})
	tests := []struct {
		name    string
		cfg     Config
		deps    Deps
		wantErr string
	}{
		{name: "ok", cfg: Config{Resolvers: []string{"127.0.0.1:53"}}, deps: Deps{Clock: clk}},
		{name: "invalid config", cfg: Config{HTTP01Port: -5}, deps: Deps{Clock: clk},
			wantErr: "validation.http01Port: must be 1-65535, got -5"},
		{name: "no clock", cfg: Config{Resolvers: []string{"127.0.0.1:53"}}, wantErr: "challengeval: Deps.Clock is required"},
		{name: "no resolvers", cfg: Config{}, deps: Deps{Clock: clk}, wantErr: "validation.resolvers: at least one resolver is required"},
		{name: "always valid needs no resolvers", cfg: Config{AlwaysValid: true}, deps: Deps{Clock: clk}},
		{name: "forward zones need no resolvers", cfg: Config{Forward: []Forward{{Zone: "test", Server: "127.0.0.1:53"}}}, deps: Deps{Clock: clk}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg, tt.deps)
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateRequests(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		req        Request
		wantType   acme.ErrorType
		wantDetail string
	}{
		{
			name: "always valid contacts nothing",
			cfg:  Config{AlwaysValid: true, Resolvers: []string{"127.0.0.1:1"}, HTTP01Port: 1},
			req:  Request{Type: acme.ChallengeHTTP01, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "nowhere.invalid"}},
		},
		{
			name: "always valid accepts unknown types too",
			cfg:  Config{AlwaysValid: true, Resolvers: []string{"127.0.0.1:1"}},
			req:  Request{Type: "tls-sni-01"},
		},
		{
			name:       "unknown challenge type",
			cfg:        Config{Resolvers: []string{"127.0.0.1:1"}},
			req:        Request{Type: "tls-sni-01", Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "a.test"}},
			wantType:   acme.Malformed,
			wantDetail: "invalid challenge type tls-sni-01",
		},
		{
			name:       "http-01 for an unknown identifier type",
			cfg:        Config{Resolvers: []string{"127.0.0.1:1"}},
			req:        Request{Type: acme.ChallengeHTTP01, Identifier: acme.Identifier{Type: "email", Value: "a@b.test"}},
			wantType:   acme.Malformed,
			wantDetail: "Identifier type for HTTP-01 challenge was not DNS or IP",
		},
		{
			name:       "tls-alpn-01 for an unknown identifier type",
			cfg:        Config{Resolvers: []string{"127.0.0.1:1"}},
			req:        Request{Type: acme.ChallengeTLSALPN01, Identifier: acme.Identifier{Type: "email", Value: "a@b.test"}},
			wantType:   acme.Malformed,
			wantDetail: "Identifier type for TLS-ALPN-01 challenge was not DNS or IP",
		},
		{
			name:       "tls-alpn-01 for a bad IP",
			cfg:        Config{Resolvers: []string{"127.0.0.1:1"}},
			req:        Request{Type: acme.ChallengeTLSALPN01, Identifier: acme.Identifier{Type: acme.TypeIP, Value: "1.2.3"}},
			wantType:   acme.Malformed,
			wantDetail: `can't parse IP address "1.2.3"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, validate(t, newValidator(t, tt.cfg), tt.req), tt.wantType, tt.wantDetail)
		})
	}
}

// TestDescribe covers the error mapping for failures that real sockets on
// loopback cannot produce deterministically (a connect timeout needs a
// black-holed route; an unreachable network needs a missing route).
func TestDescribe(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	urlErr := func(err error) error { return addrError{ip, &url.Error{Op: "Get", URL: "http://a.test/x", Err: err}} }
	tests := []struct {
		name       string
		err        error
		wantType   acme.ErrorType
		wantDetail string
	}{
		{"connect timeout", urlErr(&net.OpError{Op: "dial", Err: errTimeout{}}), acme.Connection,
			"192.0.2.1: Fetching http://a.test/x: Timeout during connect (likely firewall problem)"},
		{"read timeout", urlErr(&net.OpError{Op: "read", Err: errTimeout{}}), acme.Connection,
			"192.0.2.1: Fetching http://a.test/x: Timeout during read (your server may be slow or overloaded)"},
		{"network unreachable", urlErr(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}), acme.Connection,
			"192.0.2.1: Fetching http://a.test/x: Network unreachable"},
		{"unknown error", urlErr(errors.New("something odd")), acme.Connection,
			"192.0.2.1: Fetching http://a.test/x: Error getting validation data"},
		{"internal ACME error is hidden", acme.New(acme.ServerInternal, "secret"), acme.Connection, "Error getting validation data"},
		{"address without IP", addrError{netip.Addr{}, acme.New(acme.Unauthorized, "x")}, acme.Unauthorized, "x"},
		{"wrapped ACME error keeps its type", fmt.Errorf("ctx: %w", acme.New(acme.DNS, "DNS problem")), acme.DNS, "DNS problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, describe(tt.err), tt.wantType, tt.wantDetail)
		})
	}
}
