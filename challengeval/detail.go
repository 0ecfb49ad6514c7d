package challengeval

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's texts for network failures during http-01 and tls-alpn-01
// (va/va.go detailedError), reproduced verbatim.
const (
	detailHTTPNotTLS      = "Server only speaks HTTP, not TLS"
	detailConnectTimeout  = "Timeout during connect (likely firewall problem)"
	detailOpTimeoutFormat = "Timeout during %s (your server may be slow or overloaded)"
	detailRefused         = "Connection refused"
	detailNetUnreachable  = "Network unreachable"
	detailReset           = "Connection reset by peer"
	detailAfterConnect    = "Timeout after connect (your server may be slow or overloaded)"
	detailHTTP2           = "Server is speaking HTTP/2 over HTTP"
	detailGeneric         = "Error getting validation data"
	// fetchingFormat prefixes a failure with the URL being fetched.
	fetchingFormat = "Fetching %s: %s"
	// addrFormat prefixes a failure with the remote IP address.
	addrFormat = "%s: %s"
)

// addrError carries the IP address of the remote host a failure came from,
// so describe can prefix the detail with it (Boulder's ipError).
type addrError struct {
	addr netip.Addr
	err  error
}

func (e addrError) Error() string { return fmt.Sprintf(addrFormat, e.addr, e.err) }
func (e addrError) Unwrap() error { return e.err }

// h2SettingsMarker is how an HTTP/2 SETTINGS frame (type 4, no flags,
// stream 0) shows up in net/http's "malformed HTTP response" error when a
// server answers an HTTP/1.1 request with HTTP/2.
const h2SettingsMarker = `\x04\x00\x00\x00\x00\x00`

// describe turns any error from an http-01 or tls-alpn-01 attempt into the
// problem Boulder would report, unwrapping the address and URL layers into
// detail prefixes. It never returns nil.
func describe(err error) *acme.Error {
	var ae addrError
	if errors.As(err, &ae) {
		p := describe(ae.err)
		if ae.addr.IsValid() {
			p.Detail = fmt.Sprintf(addrFormat, ae.addr, p.Detail)
		}
		return p
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		p := describe(ue.Err)
		p.Detail = fmt.Sprintf(fetchingFormat, ue.URL, p.Detail)
		return p
	}
	if p := describeNet(err); p != nil {
		return p
	}
	if e, ok := acme.As(err); ok {
		switch e.Type {
		case acme.Connection, acme.Unauthorized, acme.DNS, acme.Malformed, acme.CAA, acme.TLS:
			return &acme.Error{Type: e.Type, Detail: e.Detail}
		}
	}
	if s := err.Error(); strings.Contains(s, `malformed HTTP response "\x00\x00`) && strings.Contains(s, h2SettingsMarker) {
		return acme.New(acme.Connection, detailHTTP2)
	}
	return acme.New(acme.Connection, detailGeneric)
}

// describeNet maps socket and TLS errors, or returns nil.
func describeNet(err error) *acme.Error {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && bytes.Equal(rh.RecordHeader[:], []byte("HTTP/")) {
		return acme.New(acme.Malformed, detailHTTPNotTLS)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		switch {
		case fmt.Sprintf("%T", op.Err) == "tls.alert":
			// Go's alert texts ("remote error: tls: ...") are fit for users.
			return acme.New(acme.TLS, "%s", op.Error())
		case op.Timeout() && op.Op == "dial":
			return acme.New(acme.Connection, detailConnectTimeout)
		case op.Timeout():
			return acme.New(acme.Connection, detailOpTimeoutFormat, op.Op)
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return acme.New(acme.Connection, detailRefused)
	case errors.Is(err, syscall.ENETUNREACH):
		return acme.New(acme.Connection, detailNetUnreachable)
	case errors.Is(err, syscall.ECONNRESET):
		return acme.New(acme.Connection, detailReset)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return acme.New(acme.Connection, detailAfterConnect)
	}
	return nil
}
