package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/asn1"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/utils/clock"
)

// listen binds a free loopback port for a responder.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestHTTP01(t *testing.T) {
	h := NewHTTP01(HTTP01Config{}, HTTP01Deps{Listener: listen(t)})
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	ch := Challenge{Type: ChallengeHTTP01, Identifier: "a.test", Token: "tok", KeyAuth: "tok.thumb"}
	get := func(path string) (int, string) {
		res, err := http.Get("http://" + h.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if err := h.Present(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"presented token", "/.well-known/acme-challenge/tok", 200, "tok.thumb"},
		{"unknown token", "/.well-known/acme-challenge/other", 404, ""},
		{"other path", "/tok", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(tt.path)
			if status != tt.status || (tt.body != "" && body != tt.body) {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, status, body, tt.status, tt.body)
			}
		})
	}
	_ = h.CleanUp(t.Context(), ch)
	if status, _ := get("/.well-known/acme-challenge/tok"); status != 404 {
		t.Errorf("after CleanUp: %d, want 404", status)
	}
}

func TestTLSALPN01(t *testing.T) {
	r, err := NewTLSALPN01(TLSALPN01Config{}, TLSALPN01Deps{Clock: clock.RealClock{}, Listener: listen(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	for _, id := range []string{"a.test", "127.0.0.1"} {
		if err := r.Present(t.Context(), Challenge{Type: ChallengeTLSALPN01, Identifier: id, KeyAuth: "tok.thumb"}); err != nil {
			t.Fatal(err)
		}
	}
	want := sha256.Sum256([]byte("tok.thumb"))
	tests := []struct {
		name, sni string
		protos    []string
		ok        bool
	}{
		{"name with acme-tls/1", "a.test", []string{acmeTLS1}, true},
		{"IP by its reverse name (RFC 8738)", "1.0.0.127.in-addr.arpa", []string{acmeTLS1}, true},
		{"without acme-tls/1", "a.test", []string{"h2"}, false},
		{"unknown name", "b.test", []string{acmeTLS1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", r.Addr(), &tls.Config{ServerName: tt.sni, NextProtos: tt.protos,
				InsecureSkipVerify: true}) // #nosec G402 -- the challenge certificate is self-signed by design
			if !tt.ok {
				if err == nil {
					conn.Close()
					t.Fatal("handshake succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			var got []byte
			for _, e := range leaf.Extensions {
				if e.Id.Equal(idPeACMEIdentifier()) && e.Critical {
					_, _ = asn1.Unmarshal(e.Value, &got)
				}
			}
			if !bytes.Equal(got, want[:]) {
				t.Errorf("acmeIdentifier = %x, want critical %x", got, want)
			}
		})
	}
}

func TestHook(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := `echo "$1 $2 $3 $FAKECA_CHALLENGE_TYPE $FAKECA_IDENTIFIER $FAKECA_WILDCARD" >> ` + log + `; [ "$FAKECA_TOKEN" != fail ]`
	h, err := NewHook(HookConfig{Command: "sh", Args: []string{"-c", script, "hook"}}, HookDeps{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ch      Challenge
		wantLog string
		wantErr bool
	}{
		{"dns-01 gets lego's arguments", Challenge{Type: ChallengeDNS01, Identifier: "a.test", Wildcard: true, Token: "t",
			DNSName: "_acme-challenge.a.test.", DNSValue: "v"}, "present _acme-challenge.a.test. v dns-01 a.test true", false},
		{"http-01 gets token and key authorization", Challenge{Type: ChallengeHTTP01, Identifier: "b.test", Token: "t",
			KeyAuth: "t.k"}, "present t t.k http-01 b.test false", false},
		{"non-zero exit fails", Challenge{Type: ChallengeHTTP01, Identifier: "c.test", Token: "fail"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(log)
			err := h.Present(t.Context(), tt.ch)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Present: %v", err)
			}
			if tt.wantErr {
				return
			}
			b, _ := os.ReadFile(log)
			if got := strings.TrimSpace(string(b)); got != tt.wantLog {
				t.Errorf("hook saw %q, want %q", got, tt.wantLog)
			}
		})
	}
}
