package challengeval

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's http-01 request shape and texts (va/http.go), verbatim.
const (
	userAgent     = "Mozilla/5.0 (compatible; Let's Encrypt validation server; +https://www.letsencrypt.org)"
	wellKnownPath = "/.well-known/acme-challenge/"
	// maxBodySize: a body of this many bytes or more is rejected.
	maxBodySize = 128

	// invalidStatusFormat is filled with the URL requested last and its status.
	invalidStatusFormat = "Invalid response from %s: %d"
	// invalidBodyFormat is filled with that URL and the (cut) body.
	invalidBodyFormat = "Invalid response from %s: %q"
	readBodyFormat    = "Error reading HTTP response body: %v"
	// keyAuthzMismatchFormat is filled with the expected key authorization
	// and the body with trailing whitespace trimmed.
	keyAuthzMismatchFormat = "The key authorization file from the server did not match this challenge. Expected %q (got %q)"
	http01BadIdentifier    = "Identifier type for HTTP-01 challenge was not DNS or IP"
	oldTLSDetail           = "validation attempt was redirected to an HTTPS server that doesn't support TLSv1.2 or better. " +
		"See https://community.letsencrypt.org/t/rejecting-sha-1-csrs-and-validation-using-tls-1-0-1-1-urls/175144"
)

// dialShave is taken off the attempt's deadline for connecting, so that a
// connect timeout is reported as such rather than as the request's deadline
// (Boulder's preresolvedDialer does the same).
const dialShave = 10 * time.Millisecond

// validateHTTP01 fetches http://<identifier>/.well-known/acme-challenge/<token>
// and compares the body with the key authorization.
func (v *Validator) validateHTTP01(ctx context.Context, id acme.Identifier, token, keyAuthz string) error {
	if id.Type != acme.TypeDNS && id.Type != acme.TypeIP {
		return acme.New(acme.Malformed, http01BadIdentifier)
	}
	first := &url.URL{Scheme: "http", Host: urlHost(id.Value), Path: wellKnownPath + token}
	body, err := v.fetchHTTP01(ctx, first)
	if err != nil {
		return err
	}
	payload := strings.TrimRightFunc(string(body), unicode.IsSpace)
	if payload != keyAuthz {
		return acme.New(acme.Unauthorized, keyAuthzMismatchFormat, keyAuthz, strings.ToValidUTF8(payload, "\uFFFD"))
	}
	return nil
}

// urlHost brackets an IPv6 literal for use as a URL host.
func urlHost(host string) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + host + "]"
	}
	return host
}

// target is one HTTP request to make: the URL (which also gives the Host
// header and SNI), and where to connect.
type target struct {
	url   *url.URL
	port  int          // the port dialed
	addrs []netip.Addr // every address the host resolved to
	addr  netip.Addr   // the address used: first IPv6, else first IPv4
}

// newTarget resolves u's host and picks the address to use.
func (v *Validator) newTarget(ctx context.Context, u *url.URL, port int) (target, error) {
	addrs, err := v.LookupHost(ctx, u.Hostname())
	if err != nil {
		return target{}, err
	}
	t := target{url: u, port: port, addrs: addrs}
	if v6 := firstOf(addrs, false); v6.IsValid() {
		t.addr = v6
	} else {
		t.addr = firstOf(addrs, true)
	}
	return t, nil
}

// firstOf returns the first IPv4 (v4 true) or IPv6 address, or the zero Addr.
func firstOf(addrs []netip.Addr, v4 bool) netip.Addr {
	for _, a := range addrs {
		if a.Unmap().Is4() == v4 {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// fallback returns t aimed at its first IPv4 address, if t used IPv6 and
// has one: Boulder retries once over IPv4 after an IPv6 connect failure.
func (t target) fallback() (target, bool) {
	if t.addr.Is4() {
		return target{}, false
	}
	v4 := firstOf(t.addrs, true)
	if !v4.IsValid() {
		return target{}, false
	}
	t.addr = v4
	return t, true
}

// fetchHTTP01 makes the first request and follows redirects, returning the
// final body (fewer than maxBodySize bytes) of a 200 response.
func (v *Validator) fetchHTTP01(ctx context.Context, first *url.URL) ([]byte, error) {
	t, err := v.newTarget(ctx, first, v.cfg.HTTP01Port)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.HTTPTimeout)
	defer cancel()
	seen := []string{first.String()}
	referer := ""
	for redirects := 0; ; {
		resp, err := get(ctx, t, referer)
		if err != nil {
			if isDialError(err) && ctx.Err() == nil {
				if fb, ok := t.fallback(); ok {
					t = fb
					continue
				}
			}
			return nil, addrError{t.addr, err}
		}
		if !isRedirect(resp.StatusCode) {
			return finalBody(resp, t)
		}
		_ = resp.Body.Close()
		next, err := v.redirectTarget(ctx, resp, seen, redirects)
		if err != nil {
			return nil, addrError{t.addr, err}
		}
		referer = refererFor(t.url, next.url)
		seen = append(seen, next.url.String())
		t = next
		redirects++
	}
}

// finalBody checks the last response and reads its body.
func finalBody(resp *http.Response, t target) ([]byte, error) {
	defer func() { _ = resp.Body.Close() }()
	if resp.TLS != nil && resp.TLS.Version < tls.VersionTLS12 {
		return nil, addrError{t.addr, &url.Error{Op: "Get", URL: t.url.String(), Err: acme.New(acme.Connection, oldTLSDetail)}}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, addrError{t.addr, acme.New(acme.Unauthorized, invalidStatusFormat, t.url.String(), resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize))
	if err != nil {
		return nil, addrError{t.addr, acme.New(acme.Unauthorized, readBodyFormat, err)}
	}
	if len(body) >= maxBodySize {
		return nil, addrError{t.addr, acme.New(acme.Unauthorized, invalidBodyFormat, t.url.String(),
			strings.ToValidUTF8(string(body), "\uFFFD"))}
	}
	return body, nil
}

// get makes one GET for t without following redirects, connecting to
// t.addr:t.port whatever the URL says.
func get(ctx context.Context, t target, referer string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	// Boulder sends Accept because mod_security rejects requests without one.
	req.Header.Set("Accept", "*/*")
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	dest := net.JoinHostPort(t.addr.String(), strconv.Itoa(t.port))
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialShaved(ctx, network, dest)
			},
			// The server has no certificate yet, like at Let's Encrypt:
			// accept any. TLS 1.0/1.1 is allowed only to report it.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10},
			DisableKeepAlives: true,
			Proxy:             nil, // never a proxy from the environment
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return client.Do(req)
}

// dialShaved connects with a deadline dialShave before ctx's.
func dialShaved(ctx context.Context, network, dest string) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-dialShave))
		defer cancel()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, dest)
}

// isDialError reports whether err happened while connecting: only those
// trigger the IPv4 fallback.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isRedirect lists the statuses net/http would follow for a GET; the ones
// Boulder refuses among them are rejected by redirectTarget.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// refererFor returns the Referer to send to next: from's URL without
// userinfo, and nothing on an https → http step, as browsers do.
func refererFor(from, next *url.URL) string {
	if from.Scheme == "https" && next.Scheme == "http" {
		return ""
	}
	r := *from
	r.User = nil
	return r.String()
}
