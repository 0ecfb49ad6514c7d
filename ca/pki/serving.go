package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

const (
	// servingValidity is the lifetime of ServingCertificate's certificates.
	servingValidity = 365 * 24 * time.Hour
	// servingBackdate tolerates client clock skew.
	servingBackdate = time.Hour
)

// ServingCertificate issues a TLS server certificate for fakeca's own
// listeners (ACME, management): a fresh ECDSA P-256 key, valid for a year
// (never past the issuer), signed by the ECDSA intermediate. Its SANs are
// hosts (DNS names or IP addresses; "[::1]" brackets are accepted) plus
// "localhost", 127.0.0.1 and ::1. The returned Certificate carries the
// default ECDSA chain, so clients that trust BundlePEM verify it.
func (h *Hierarchy) ServingCertificate(hosts []string) (tls.Certificate, error) {
	dnsNames, ips, err := splitHosts(append([]string{"localhost", "127.0.0.1", "::1"}, hosts...))
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), h.rand)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: generating serving key: %w", err)
	}
	iss := h.ecIssuer
	notBefore := h.clock.Now().Add(-servingBackdate)
	notAfter := notBefore.Add(servingValidity - time.Second)
	if notAfter.After(iss.Cert.NotAfter) {
		notAfter = iss.Cert.NotAfter
	}
	leaf, err := h.Issue(LeafRequest{
		PublicKey: key.Public(),
		DNSNames:  dnsNames,
		IPs:       ips,
		Profile:   Profile{Name: "serving", OmitCommonName: true},
		NotBefore: notBefore,
		NotAfter:  notAfter,
	})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: serving certificate: %w", err)
	}
	out := tls.Certificate{Certificate: [][]byte{leaf.DER}, PrivateKey: key, Leaf: leaf.Cert}
	for _, c := range h.Chains(iss.ID)[0] {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// splitHosts sorts hosts into DNS names and IPs, de-duplicated in order.
func splitHosts(hosts []string) ([]string, []net.IP, error) {
	var (
		names []string
		ips   []net.IP
		seen  = make(map[string]bool, len(hosts))
	)
	for _, raw := range hosts {
		h := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(raw), "["), "]"))
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.TrimSuffix(h, ".")
		if !validHostname(h) {
			return nil, nil, fmt.Errorf("pki: serving host %q is neither an IP address nor a DNS name", raw)
		}
		if !seen[h] {
			seen[h] = true
			names = append(names, h)
		}
	}
	return names, ips, nil
}

// validHostname accepts LDH names (underscores tolerated), optionally with a
// leading "*." wildcard label.
func validHostname(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}
