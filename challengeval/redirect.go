package challengeval

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's http-01 redirect policy texts (va/http.go), verbatim. All are
// connection problems, reported as "<ip>: Fetching <target>: <text>".
const (
	// maxRedirects is how many redirects are followed; one more fails.
	maxRedirects = 10
	// maxPathSize bounds the path of a redirect target, in bytes.
	maxPathSize = 2000

	tooManyRedirects    = "Too many redirects"
	redirectLoop        = "Redirect loop detected"
	disallowedRedirect  = "received disallowed redirect status code"
	badLocationFormat   = "Invalid Location header in %d redirect"
	badSchemeFormat     = `Invalid protocol scheme in redirect target. Only "http" and "https" protocol schemes are supported, not %q`
	badPortFormat       = "Invalid port in redirect target. Only ports %d and %d are supported, not %d"
	emptyRedirectHost   = "Invalid empty host in redirect target"
	missingSlashFormat  = "Invalid host in redirect target %q. Check webserver config for missing '/' in redirect target."
	redirectScopeZone   = "Invalid host in redirect target: contains scope zone"
	nonIANARedirectHost = "Invalid host in redirect target, must end in IANA registered TLD"
	redirectTooLong     = "Redirect target too long"
)

// The only ports a redirect may name, as at Let's Encrypt. Config's
// RedirectPortMap changes where they are dialed, not this policy.
const (
	redirectHTTPPort  = 80
	redirectHTTPSPort = 443
)

// redirectTarget applies Boulder's redirect policy to resp and resolves the
// next target. redirects is how many were followed already; seen lists the
// URLs requested so far. Errors are *url.Error naming the target.
func (v *Validator) redirectTarget(ctx context.Context, resp *http.Response, seen []string, redirects int) (target, error) {
	loc, err := resp.Location()
	if err != nil {
		return target{}, &url.Error{Op: "Get", URL: resp.Request.URL.String(),
			Err: acme.New(acme.Connection, badLocationFormat, resp.StatusCode)}
	}
	loc.Host = strings.ToLower(loc.Host)
	bad := func(format string, args ...any) (target, error) {
		return target{}, &url.Error{Op: "Get", URL: loc.String(), Err: acme.New(acme.Connection, format, args...)}
	}
	if redirects >= maxRedirects {
		return bad(tooManyRedirects)
	}
	if resp.TLS != nil && resp.TLS.Version < tls.VersionTLS12 {
		return bad(oldTLSDetail)
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return bad(disallowedRedirect)
	}
	if loc.Scheme != "http" && loc.Scheme != "https" {
		return bad(badSchemeFormat, loc.Scheme)
	}
	port := redirectHTTPPort
	if loc.Scheme == "https" {
		port = redirectHTTPSPort
	}
	if p := loc.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n != redirectHTTPPort && n != redirectHTTPSPort {
			return bad(badPortFormat, redirectHTTPPort, redirectHTTPSPort, n)
		}
		port = n
	}
	host := loc.Hostname()
	switch {
	case host == "":
		return bad(emptyRedirectHost)
	case strings.HasSuffix(host, ".well-known"):
		return bad(missingSlashFormat, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		// Deliberate difference from Boulder: reserved addresses (loopback,
		// private ranges) are allowed as redirect targets.
		if ip.Zone() != "" {
			return bad(redirectScopeZone)
		}
	} else if !allowedTLD(host) {
		return bad(nonIANARedirectHost)
	}
	if len(loc.Path) > maxPathSize {
		return bad(redirectTooLong)
	}
	for _, s := range seen {
		if s == loc.String() {
			return bad(redirectLoop)
		}
	}
	if mapped, ok := v.cfg.RedirectPortMap[port]; ok {
		port = mapped
	}
	next, err := v.newTarget(ctx, loc, port)
	if err != nil {
		return target{}, &url.Error{Op: "Get", URL: loc.String(), Err: err}
	}
	return next, nil
}

// allowedTLD reports whether host ends in an ICANN TLD (the ICANN section
// of the public suffix list, as Boulder's iana.ExtractSuffix) or in one of
// the special-use names test, example, invalid, localhost (RFC 2606, 6761),
// internal (ICANN 2024) and home.arpa (RFC 8375). Let's Encrypt refuses the
// latter; fakeca accepts them because local test setups use them.
func allowedTLD(host string) bool {
	host = normalizeName(host)
	for _, t := range [...]string{"test", "example", "invalid", "localhost", "internal", "home.arpa"} {
		if host == t || strings.HasSuffix(host, "."+t) {
			return true
		}
	}
	tld := host[strings.LastIndexByte(host, '.')+1:]
	if tld == "" {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(tld)
	return icann && suffix == tld
}
