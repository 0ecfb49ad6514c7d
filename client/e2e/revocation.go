package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// maxBody caps what the checks read from the public and management
// listeners.
const maxBody = 8 << 20

// issuer is the first certificate's issuing intermediate.
func (r *runner) issuer() (*x509.Certificate, error) {
	if len(r.first.Chain) < 2 {
		return nil, fmt.Errorf("the server sent no intermediate with serial %x", r.first.Leaf.SerialNumber)
	}
	return x509.ParseCertificate(r.first.Chain[1])
}

// crl fetches the CRL named in the certificate and finds the serial in it,
// polling for up to Config.CRLWait.
func (r *runner) crl(ctx context.Context) (string, error) {
	leaf := r.first.Leaf
	if len(leaf.CRLDistributionPoints) == 0 {
		return "", fmt.Errorf("certificate serial %x has no CRL distribution point", leaf.SerialNumber)
	}
	iss, err := r.issuer()
	if err != nil {
		return "", err
	}
	url := leaf.CRLDistributionPoints[0]
	deadline := r.clock.Now().Add(r.cfg.CRLWait)
	for {
		der, err := r.get(ctx, url)
		if err != nil {
			return "", err
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			return "", fmt.Errorf("CRL %s: %w", url, err)
		}
		if err := rl.CheckSignatureFrom(iss); err != nil {
			return "", fmt.Errorf("CRL %s is not signed by %q: %w", url, iss.Subject.CommonName, err)
		}
		for _, e := range rl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Sprintf("serial %x listed in %s (reason %d, %d entries)", leaf.SerialNumber, url,
					e.ReasonCode, len(rl.RevokedCertificateEntries)), nil
			}
		}
		if !r.clock.Now().Before(deadline) {
			return "", fmt.Errorf("serial %x is not in CRL %s (thisUpdate %s, %d entries)", leaf.SerialNumber, url,
				rl.ThisUpdate.UTC().Format(time.RFC3339), len(rl.RevokedCertificateEntries))
		}
		if err := r.sleep(ctx, r.cfg.PollInterval); err != nil {
			return "", err
		}
	}
}

// ocsp asks the responder in the certificate's AIA, if any.
func (r *runner) ocsp(ctx context.Context) (string, error) {
	leaf := r.first.Leaf
	if len(leaf.OCSPServer) == 0 {
		return "", skip("certificate has no OCSP URL (Let's Encrypt ended OCSP; fakeca serve --ocsp enables it)")
	}
	iss, err := r.issuer()
	if err != nil {
		return "", err
	}
	body, err := ocsp.CreateRequest(leaf, iss, nil)
	if err != nil {
		return "", err
	}
	url := leaf.OCSPServer[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	der, err := r.fetch(req)
	if err != nil {
		return "", err
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, iss)
	if err != nil {
		return "", fmt.Errorf("OCSP %s: %w", url, err)
	}
	if resp.Status != ocsp.Revoked {
		return "", fmt.Errorf("OCSP %s says serial %x is %s, want revoked", url, leaf.SerialNumber, ocspStatus(resp.Status))
	}
	return fmt.Sprintf("revoked at %s, reason %d (%s)", resp.RevokedAt.UTC().Format(time.RFC3339), resp.RevocationReason, url), nil
}

func ocspStatus(s int) string {
	switch s {
	case ocsp.Good:
		return "good"
	case ocsp.Revoked:
		return "revoked"
	}
	return "unknown"
}

// certStatus asks fakeca's management API (Pebble's path) when given.
func (r *runner) certStatus(ctx context.Context) (string, error) {
	if r.cfg.MgmtURL == "" {
		return "", skip("no management URL")
	}
	url := strings.TrimSuffix(r.cfg.MgmtURL, "/") + "/cert-status-by-serial/" + r.first.Leaf.SerialNumber.Text(16)
	body, err := r.get(ctx, url)
	if err != nil {
		return "", err
	}
	var st struct{ Status, RevokedAt string }
	if err := json.Unmarshal(body, &st); err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	if st.Status != "Revoked" {
		return "", fmt.Errorf("%s says %q, want \"Revoked\"", url, st.Status)
	}
	return "Revoked at " + st.RevokedAt, nil
}

// get fetches url (GET) and returns the body of a 200.
func (r *runner) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return r.fetch(req)
}

func (r *runner) fetch(req *http.Request) ([]byte, error) {
	res, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, res.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// sleep waits d on the injected clock.
func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	t := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
