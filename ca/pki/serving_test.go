package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServingCertificate(t *testing.T) {
	h, clk := newHierarchy(t, Config{Hierarchy: "letsencrypt-staging"})
	tests := []struct {
		name     string
		hosts    []string
		wantDNS  []string
		wantIPs  []string
		dialHost string // address to dial and name to verify
	}{
		{name: "defaults only", hosts: nil,
			wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1"}, dialHost: "localhost"},
		{name: "extra names and IPs, deduplicated", hosts: []string{"FakeCA.Test.", "[::1]", "10.0.0.1", "localhost", " ", "*.wild.test"},
			wantDNS: []string{"localhost", "fakeca.test", "*.wild.test"}, wantIPs: []string{"127.0.0.1", "::1", "10.0.0.1"},
			dialHost: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := h.ServingCertificate(tt.hosts)
			if err != nil {
				t.Fatal(err)
			}
			leaf := cert.Leaf
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %v, want %v", leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPs = %v, want %v", ips, tt.wantIPs)
			}
			if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
				t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
			}
			if d := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; d != 365*24*time.Hour {
				t.Errorf("validity %s, want 1 year", d)
			}
			if len(cert.Certificate) != 3 {
				t.Fatalf("tls.Certificate carries %d certificates, want leaf + 2", len(cert.Certificate))
			}
			var chain []*x509.Certificate
			for _, der := range cert.Certificate[1:] {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				chain = append(chain, c)
			}
			verify(t, h, leaf, chain, clk.Now())
			handshake(t, h, cert, tt.dialHost, clk.Now())
		})
	}
}

// handshake serves cert on loopback and connects with a client that trusts
// only BundlePEM, at time now.
func handshake(t *testing.T, h *Hierarchy, cert tls.Certificate, host string, now time.Time) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer func() { _ = c.Close() }()
		done <- c.(*tls.Conn).Handshake()
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.BundlePEM())
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", port), &tls.Config{
		RootCAs: pool, ServerName: host, Time: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	_ = conn.Close()
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestServingCertificateRejects(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	tests := []struct {
		name string
		host string
	}{
		{"host with port", "localhost:14000"},
		{"space", "a b.test"},
		{"leading hyphen", "-x.test"},
		{"empty label", "a..test"},
		{"URL", "https://a.test/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.ServingCertificate([]string{tt.host})
			if err == nil || !strings.Contains(err.Error(), "is neither an IP address nor a DNS name") {
				t.Fatalf("ServingCertificate(%q) error = %v", tt.host, err)
			}
		})
	}
}
