package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// acmeTLS1 is the ALPN protocol of RFC 8737.
const acmeTLS1 = "acme-tls/1"

// TLSALPN01Config configures a TLSALPN01 responder.
type TLSALPN01Config struct {
	// Listen is the address to serve on; the server connects to port 443
	// of the name (fakeca: --tlsalpn01-port). Ignored when Deps.Listener
	// is set. Default "127.0.0.1:443"; use ":443" on a public host.
	Listen string
}

// TLSALPN01Deps are a TLSALPN01 responder's collaborators; Clock is
// required (it dates the challenge certificates).
type TLSALPN01Deps struct {
	Clock    clock.PassiveClock
	Listener net.Listener
	Logger   *slog.Logger
}

// TLSALPN01 is a built-in tls-alpn-01 responder and Solver (RFC 8737):
// for a TLS handshake offering only "acme-tls/1" it presents a
// self-signed certificate for the SNI name carrying the key
// authorization's digest in the critical acmeIdentifier extension. Build
// it with NewTLSALPN01, then Start; safe for concurrent use.
type TLSALPN01 struct {
	cfg   TLSALPN01Config
	clock clock.PassiveClock
	ln    net.Listener
	log   *slog.Logger
	wg    sync.WaitGroup

	mu    sync.RWMutex
	certs map[string]*tls.Certificate // by SNI name
}

var _ Solver = (*TLSALPN01)(nil)

// idPeACMEIdentifier is id-pe-acmeIdentifier (RFC 8737 §6.1).
func idPeACMEIdentifier() asn1.ObjectIdentifier {
	return asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
}

// NewTLSALPN01 builds a responder; it binds nothing until Start.
func NewTLSALPN01(cfg TLSALPN01Config, deps TLSALPN01Deps) (*TLSALPN01, error) {
	if deps.Clock == nil {
		return nil, errors.New("tls-alpn-01 responder: Deps.Clock is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:443"
	}
	t := &TLSALPN01{cfg: cfg, clock: deps.Clock, ln: deps.Listener, log: deps.Logger, certs: map[string]*tls.Certificate{}}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t, nil
}

// Start binds (unless given a listener) and serves until Shutdown.
func (t *TLSALPN01) Start(ctx context.Context) error {
	if t.ln == nil {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", t.cfg.Listen)
		if err != nil {
			return fmt.Errorf("tls-alpn-01 responder: %w", err)
		}
		t.ln = ln
	}
	cfg := &tls.Config{NextProtos: []string{acmeTLS1}, GetCertificate: t.certificate, MinVersion: tls.VersionTLS12}
	ln := tls.NewListener(t.ln, cfg)
	t.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.wg.Go(func() { t.handshake(conn) })
		}
	})
	return nil
}

// handshake completes the TLS handshake (which is the whole answer) and
// closes the connection.
func (t *TLSALPN01) handshake(conn net.Conn) {
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		t.log.Debug("tls-alpn-01 handshake failed", "err", err)
	}
}

// Addr is the bound address, "" before Start.
func (t *TLSALPN01) Addr() string {
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

// Shutdown closes the listener and waits for open handshakes.
func (t *TLSALPN01) Shutdown(ctx context.Context) error {
	if t.ln == nil {
		return nil
	}
	err := t.ln.Close()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (t *TLSALPN01) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !slices.Contains(hello.SupportedProtos, acmeTLS1) {
		return nil, errors.New("tls-alpn-01 responder: client did not offer acme-tls/1")
	}
	t.mu.RLock()
	c, ok := t.certs[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))]
	t.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("tls-alpn-01 responder: no challenge for %q", hello.ServerName)
	}
	return c, nil
}

// sniName is the SNI a validator sends for an identifier: the name, or
// for an IP the reverse-DNS name (RFC 8738 §6).
func sniName(identifier string) string {
	if ip := net.ParseIP(identifier); ip != nil {
		rev, _ := dns.ReverseAddr(identifier)
		return strings.TrimSuffix(rev, ".")
	}
	return strings.ToLower(identifier)
}

// Present makes the challenge certificate for ch.
func (t *TLSALPN01) Present(_ context.Context, ch Challenge) error {
	c, err := t.challengeCert(ch)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.certs[sniName(ch.Identifier)] = c
	t.mu.Unlock()
	return nil
}

// CleanUp forgets it.
func (t *TLSALPN01) CleanUp(_ context.Context, ch Challenge) error {
	t.mu.Lock()
	delete(t.certs, sniName(ch.Identifier))
	t.mu.Unlock()
	return nil
}

// challengeCert is RFC 8737 §3's self-signed certificate.
func (t *TLSALPN01) challengeCert(ch Challenge) (*tls.Certificate, error) {
	sum := sha256.Sum256([]byte(ch.KeyAuth))
	ext, err := asn1.Marshal(sum[:])
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := t.clock.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "fakeca tls-alpn-01"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: idPeACMEIdentifier(), Critical: true, Value: ext}}}
	if ip := net.ParseIP(ch.Identifier); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{ch.Identifier}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
