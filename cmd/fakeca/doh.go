package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/fakeca/fakeca/dnsserver"
)

// loadDoHKeyPair reads the DNS-over-HTTPS certificate and key files named
// by c.DoHCert and c.DoHKey into c.DoHKeyPair, when DoH is on and it is
// not loaded yet. An error starts with the YAML path of the file at fault:
// "dns.dohCert: …" when the certificate file is unreadable or holds no
// certificate, "dns.dohKey: …" when the key file is unreadable, invalid or
// does not match.
func loadDoHKeyPair(c *dnsserver.Config) error {
	if len(dnsserver.ListenAddrs(c.DoHListen)) == 0 || c.DoHKeyPair != nil {
		return nil
	}
	certPEM, err := os.ReadFile(c.DoHCert)
	if err != nil {
		return fmt.Errorf("dns.dohCert: %w", err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return fmt.Errorf("dns.dohCert: %s: %w", c.DoHCert, err)
	}
	keyPEM, err := os.ReadFile(c.DoHKey)
	if err != nil {
		return fmt.Errorf("dns.dohKey: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("dns.dohKey: %s: %w", c.DoHKey, err)
	}
	c.DoHKeyPair = &pair
	return nil
}

// checkCertPEM checks that the first CERTIFICATE block of a PEM file
// parses.
func checkCertPEM(data []byte) error {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return errors.New("no PEM CERTIFICATE block")
		}
		if b.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(b.Bytes)
			return err
		}
	}
}
