package dnsserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// https01Validity is how long the HTTPS-01 listener's self-signed
// certificate is valid after New (validators do not verify it).
const https01Validity = 365 * 24 * time.Hour

// selfSigned gives tmpl a random serial number and signs it with key.
func selfSigned(key *ecdsa.PrivateKey, tmpl *x509.Certificate) (*tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// newHTTPS01TLS builds the HTTPS-01 listener's TLS configuration: one
// fresh self-signed ECDSA P-256 certificate, presented whatever the SNI,
// valid from an hour before now.
func newHTTPS01TLS(now time.Time) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("https-01 key: %w", err)
	}
	cert, err := selfSigned(key, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "fakeca https-01 responder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(https01Validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("https-01 certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}, nil
}
