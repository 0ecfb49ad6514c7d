package client

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// ParseReason reads a revocation reason given by its RFC 5280 name (any
// case) or number. Let's Encrypt accepts 0, 1, 3, 4 and 5 from
// subscribers; the server decides.
func ParseReason(s string) (acme.CRLReasonCode, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 10 && n != 7 {
		return acme.CRLReasonCode(n), nil
	}
	names := []string{"unspecified", "keycompromise", "cacompromise", "affiliationchanged", "superseded",
		"cessationofoperation", "certificatehold", "", "removefromcrl", "privilegewithdrawn", "aacompromise"}
	for code, name := range names {
		if name != "" && name == strings.ToLower(s) {
			return acme.CRLReasonCode(code), nil
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q (want a number 0-10 or unspecified, keyCompromise, "+
		"affiliationChanged, superseded, cessationOfOperation, …)", s)
}

// Revoke revokes a certificate (DER). With key nil the request is signed
// by the account (which must have issued it or hold authorizations for
// all its names); otherwise by key, the certificate's own private key.
// A certificate that is already revoked is not an error (as in the fork).
func (c *Client) Revoke(ctx context.Context, der []byte, key crypto.Signer, reason acme.CRLReasonCode) error {
	start := c.clock.Now()
	msg := "certificate revoked"
	if cert, err := x509.ParseCertificate(der); err == nil {
		msg = fmt.Sprintf("certificate revoked serial %x (reason %d)", cert.SerialNumber, reason)
	}
	err := c.acme.RevokeCert(ctx, key, der, reason)
	if err != nil {
		err = fmt.Errorf("revoke: %w", err)
	}
	c.report(Step{Name: "revoke", Message: msg, Err: err}, start)
	return err
}

// RenewalInfo is a server's ARI answer (RFC 9773 §4.2).
type RenewalInfo struct {
	Start          time.Time     `json:"start"`
	End            time.Time     `json:"end"`
	ExplanationURL string        `json:"explanationURL,omitempty"`
	RetryAfter     time.Duration `json:"retryAfter"`
}

// CertID is a certificate's ARI CertID: base64url(AKI) "." base64url(serial).
func CertID(cert *x509.Certificate) (string, error) { return acme.CertificateARIID(cert) }

// RenewalInfo fetches the suggested renewal window of cert.
// acme.ErrCADoesNotSupportARI means the directory has no renewalInfo.
func (c *Client) RenewalInfo(ctx context.Context, cert *x509.Certificate) (RenewalInfo, error) {
	start := c.clock.Now()
	ri, err := c.acme.GetRenewalInfo(ctx, cert)
	if err != nil {
		err = fmt.Errorf("renewal info: %w", err)
		c.report(Step{Name: "renewal-info", Err: err}, start)
		return RenewalInfo{}, err
	}
	out := RenewalInfo{Start: ri.SuggestedWindow.Start, End: ri.SuggestedWindow.End,
		ExplanationURL: ri.ExplanationURL, RetryAfter: ri.RetryAfter}
	c.report(Step{Name: "renewal-info", Message: fmt.Sprintf("renewal window %s – %s",
		out.Start.UTC().Format(time.RFC3339), out.End.UTC().Format(time.RFC3339))}, start)
	return out, nil
}
