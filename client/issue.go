package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// Challenge types.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeDNS01     = "dns-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Request asks for one certificate.
type Request struct {
	// Names are the DNS names ("*.example.test" for a wildcard) and IP
	// addresses of the certificate, the first one also its CN. Required.
	Names []string
	// Challenges are the challenge types to use, most preferred first; for
	// each authorization the first type the server offers and Solvers has
	// is solved. Default [http-01].
	Challenges []string
	// Solvers solve each challenge type.
	Solvers map[string]Solver
	// Profile is the ACME profile to request (e.g. "shortlived"); "" is
	// the server's default.
	Profile string
	// NotAfter, if set, is sent in new-order as cert-manager does for a
	// Certificate's spec.duration with enableDurationFeature; Let's
	// Encrypt refuses it ("NotBefore and NotAfter are not supported").
	NotAfter time.Time
	// Replaces is the ARI CertID (see CertID) of the certificate this one
	// replaces (RFC 9773); "" for none. A server that refuses it gets the
	// order once more without it, as cert-manager does.
	Replaces string
	// Key is the certificate's private key; nil generates one of KeyType.
	Key crypto.Signer
	// KeyType is the type of a generated key. Default ecdsa-p256.
	KeyType KeyType
}

// Certificate is an issued certificate with its key.
type Certificate struct {
	Key      crypto.Signer
	Chain    [][]byte // DER, leaf first, then the intermediates
	Leaf     *x509.Certificate
	URL      string // the certificate URL
	OrderURL string
	// Replaces is the `replaces` the server echoed in the order ("" if it
	// sent none), Profile the profile it echoed.
	Replaces string
	Profile  string
}

// OrderInfo is an order as the server renders it, with the RFC 9773 and
// profiles fields the fork drops. Plain data.
type OrderInfo struct {
	Status      string         `json:"status"`
	Identifiers []acme.AuthzID `json:"identifiers"`
	Profile     string         `json:"profile,omitempty"`
	Replaces    string         `json:"replaces,omitempty"`
	Certificate string         `json:"certificate,omitempty"`
	Finalize    string         `json:"finalize"`
	// Error is the order's problem document as sent, if any.
	Error json.RawMessage `json:"error,omitempty"`
}

// Issue runs one issuance: new-order (retrying 5xx and network errors
// with OrderRetryDelay), every authorization, finalize and download. A
// 4xx anywhere ends the attempt; Problem(err) is the server's problem.
func (c *Client) Issue(ctx context.Context, req Request) (*Certificate, error) {
	if len(req.Names) == 0 {
		return nil, errors.New("issue: no names")
	}
	if len(req.Challenges) == 0 {
		req.Challenges = []string{ChallengeHTTP01}
	}
	key := req.Key
	if key == nil {
		var err error
		if key, err = NewKey(req.KeyType); err != nil {
			return nil, err
		}
	}
	o, err := c.newOrder(ctx, req)
	if err != nil {
		return nil, err
	}
	info, err := c.Order(ctx, o.URI)
	if err != nil {
		return nil, err
	}
	for _, u := range o.AuthzURLs {
		if err := c.authorize(ctx, u, req); err != nil {
			return nil, err
		}
	}
	crt, err := c.finalize(ctx, o, req.Names, key)
	if err != nil {
		return nil, err
	}
	crt.Replaces, crt.Profile = info.Replaces, info.Profile
	return crt, nil
}

// newOrder creates the order, retrying retryable errors and dropping a
// refused `replaces` once.
func (c *Client) newOrder(ctx context.Context, req Request) (*acme.Order, error) {
	var opts []acme.OrderOption
	if !req.NotAfter.IsZero() {
		opts = append(opts, acme.WithOrderNotAfter(req.NotAfter))
	}
	if req.Profile != "" {
		opts = append(opts, acme.WithOrderProfile(req.Profile))
	}
	withoutReplaces := len(opts)
	if req.Replaces != "" {
		opts = append(opts, acme.WithOrderReplacesCertID(req.Replaces))
	}
	ids := identifiers(req.Names)
	for retry := 0; ; retry++ {
		start := c.clock.Now()
		o, err := c.acme.AuthorizeOrder(ctx, ids, opts...)
		if err != nil && len(opts) > withoutReplaces && isReplacesRejection(err) {
			c.log.Info("server refused replaces; ordering without it", "err", err)
			opts = opts[:withoutReplaces]
			o, err = c.acme.AuthorizeOrder(ctx, ids, opts...)
		}
		if err == nil {
			msg := fmt.Sprintf("order created %s (%s)", o.URI, strings.Join(req.Names, ", "))
			if len(opts) > withoutReplaces {
				msg += " replacing " + req.Replaces
			}
			c.report(Step{Name: "order", Message: msg, URL: o.URI}, start)
			return o, nil
		}
		err = fmt.Errorf("new order: %w", err)
		c.report(Step{Name: "order", Err: err}, start)
		if !Retryable(err) || retry >= c.cfg.OrderRetries || c.cfg.OrderRetries < 0 {
			return nil, err
		}
		if werr := c.sleep(ctx, OrderRetryDelay(retry+1)); werr != nil {
			return nil, err
		}
	}
}

// identifiers turns names into ACME identifiers: IP literals become "ip".
func identifiers(names []string) []acme.AuthzID {
	ids := make([]acme.AuthzID, len(names))
	for i, n := range names {
		ids[i] = acme.AuthzID{Type: "dns", Value: n}
		if net.ParseIP(n) != nil {
			ids[i].Type = "ip"
		}
	}
	return ids
}

// Order fetches an order's JSON with a POST-as-GET of our own, so that
// `replaces` and `profile` are seen.
func (c *Client) Order(ctx context.Context, url string) (OrderInfo, error) {
	dir, err := c.Directory(ctx)
	if err != nil {
		return OrderInfo{}, err
	}
	body, _, err := c.jws.post(ctx, dir.NonceURL, url, c.AccountURL(), nil)
	if err != nil {
		return OrderInfo{}, fmt.Errorf("order %s: %w", url, err)
	}
	var info OrderInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return OrderInfo{}, fmt.Errorf("order %s: %w", url, err)
	}
	return info, nil
}

// finalize waits for the order to be ready, submits the CSR, waits for
// the certificate and downloads it.
func (c *Client) finalize(ctx context.Context, o *acme.Order, names []string, key crypto.Signer) (crt *Certificate, err error) {
	start, orderURL := c.clock.Now(), o.URI // o is replaced below, and is nil when waiting fails
	defer func() {
		if err != nil {
			c.report(Step{Name: "finalize", URL: orderURL, Err: err}, start)
		}
	}()
	if o, err = c.waitOrder(ctx, o.URI, acme.StatusReady, acme.StatusValid); err != nil {
		return nil, err
	}
	csr, err := newCSR(names, key)
	if err != nil {
		return nil, err
	}
	dir, err := c.Directory(ctx)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"csr": base64.RawURLEncoding.EncodeToString(csr)})
	if _, _, err = c.jws.post(ctx, dir.NonceURL, o.FinalizeURL, c.AccountURL(), body); err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	if o, err = c.waitOrder(ctx, o.URI, acme.StatusValid); err != nil {
		return nil, err
	}
	c.report(Step{Name: "finalize", Message: "order finalized " + o.URI, URL: o.URI}, start)
	return c.download(ctx, o, key)
}

// download fetches the certificate chain of a valid order.
func (c *Client) download(ctx context.Context, o *acme.Order, key crypto.Signer) (crt *Certificate, err error) {
	start := c.clock.Now()
	defer func() {
		s := Step{Name: "certificate", URL: o.CertURL, Err: err}
		if err == nil {
			s.Message = fmt.Sprintf("certificate issued serial %x, expires %s, %s", crt.Leaf.SerialNumber,
				crt.Leaf.NotAfter.UTC().Format(time.RFC3339), o.CertURL)
		}
		c.report(s, start)
	}()
	chain, err := c.acme.FetchCert(ctx, o.CertURL, true)
	if err != nil {
		return nil, fmt.Errorf("download certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("download certificate: %w", err)
	}
	return &Certificate{Key: key, Chain: chain, Leaf: leaf, URL: o.CertURL, OrderURL: o.URI}, nil
}

// newCSR makes the DER CSR for names: the first DNS name (if any) is the
// CN, as cert-manager and certbot do; IPs go to the IP SANs.
func newCSR(names []string, key crypto.Signer) ([]byte, error) {
	tmpl := &x509.CertificateRequest{}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if tmpl.Subject.CommonName == "" && len(n) <= 64 {
			tmpl.Subject = pkix.Name{CommonName: n}
		}
		tmpl.DNSNames = append(tmpl.DNSNames, n)
	}
	return x509.CreateCertificateRequest(rand.Reader, tmpl, key)
}
