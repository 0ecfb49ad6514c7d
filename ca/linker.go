package ca

import (
	"fmt"
	"net/http"
	"strconv"
)

// URL paths, as Boulder serves them (reference §8). They also name the
// routes for metrics and fault operations, whichever PathSet is served.
const (
	pathDirectory   = "/directory"
	pathPebbleDir   = "/dir"
	pathNewNonce    = "/acme/new-nonce"
	pathNewAccount  = "/acme/new-acct"
	pathAccount     = "/acme/acct/"
	pathNewOrder    = "/acme/new-order"
	pathOrder       = "/acme/order/"
	pathAuthz       = "/acme/authz/"
	pathChallenge   = "/acme/chall/"
	pathFinalize    = "/acme/finalize/"
	pathCert        = "/acme/cert/"
	pathRevoke      = "/acme/revoke-cert"
	pathKeyChange   = "/acme/key-change"
	pathRenewalInfo = "/acme/renewal-info"
	// pathOrders is fakeca's own path for the orders list, which Boulder
	// does not serve (Config.OrdersPerPage).
	pathOrders = "/acme/orders/"
	// pathPage comes between an orders list's account and a page number.
	pathPage = "/page/"
)

// PathSet selects the URL paths of the ACME listener. Clients find them
// through the directory, so the set only matters to harnesses that
// hard-code paths. When a value is added: pathsFor, Config docs, README.
type PathSet string

const (
	// PathsBoulder ("" or "boulder") serves Let's Encrypt's paths
	// (/directory, /acme/new-order, /acme/order/<acct>/<id>, …). Default.
	PathsBoulder PathSet = "boulder"
	// PathsPebble serves Pebble's paths (/dir, /nonce-plz, /sign-me-up,
	// /order-plz, /my-order/<acct>-<id>, /certZ/<serial>/alternate/<n>,
	// …). fakeca's IDs are scoped to the account, so the resource paths
	// carry "<acct>-<id>" in Pebble's single path segment.
	PathsPebble PathSet = "pebble"
)

// paths are one PathSet's URL paths. sep joins the IDs inside a resource
// path; alt comes between a certificate's serial and its chain index.
type paths struct {
	directory, newNonce, newAccount, account, newOrder, order, orders, authz string
	challenge, finalize, cert, revoke, keyChange, renewalInfo, sep, alt      string
}

// pathsFor returns the paths of a PathSet; an unknown set is an error.
func pathsFor(set PathSet) (paths, error) {
	switch set {
	case "", PathsBoulder:
		return paths{directory: pathDirectory, newNonce: pathNewNonce, newAccount: pathNewAccount,
			account: pathAccount, newOrder: pathNewOrder, order: pathOrder, authz: pathAuthz,
			challenge: pathChallenge, finalize: pathFinalize, cert: pathCert, revoke: pathRevoke,
			keyChange: pathKeyChange, renewalInfo: pathRenewalInfo, sep: "/", alt: "/", orders: pathOrders}, nil
	case PathsPebble:
		return paths{directory: pathPebbleDir, newNonce: "/nonce-plz", newAccount: "/sign-me-up",
			account: "/my-account/", newOrder: "/order-plz", order: "/my-order/", authz: "/authZ/",
			challenge: "/chalZ/", finalize: "/finalize-order/", cert: "/certZ/", revoke: "/revoke-cert",
			keyChange: "/rollover-account-key", renewalInfo: "/draft-ietf-acme-ari-03/renewalInfo",
			sep: "-", alt: "/alternate/", orders: "/list-orderz/"}, nil
	}
	return paths{}, fmt.Errorf("ca.paths: unknown path set %q (want boulder or pebble)", set)
}

// linker builds absolute URLs for one request. Like Boulder, URLs follow the
// Host the client used, so a CA reached as "fakeca.svc:443" hands out URLs
// a client inside the cluster can follow. The zero value is not usable.
type linker struct {
	base string
	p    paths
}

// linkerFor is the linker for r in the server's path set.
func (s *Server) linkerFor(r *http.Request) linker {
	return linker{base: "https://" + r.Host, p: s.paths}
}

func (l linker) url(path string) string { return l.base + path }

func (l linker) account(id int64) string { return l.base + l.p.account + itoa(id) }

func (l linker) order(acct, id int64) string {
	return l.base + l.p.order + itoa(acct) + l.p.sep + itoa(id)
}

func (l linker) authz(acct, id int64) string {
	return l.base + l.p.authz + itoa(acct) + l.p.sep + itoa(id)
}

func (l linker) challenge(acct, authz int64, chalID string) string {
	return l.base + l.p.challenge + itoa(acct) + l.p.sep + itoa(authz) + l.p.sep + chalID
}

func (l linker) finalize(acct, id int64) string {
	return l.base + l.p.finalize + itoa(acct) + l.p.sep + itoa(id)
}

func (l linker) cert(serial string) string { return l.base + l.p.cert + serial }

func (l linker) certChain(serial string, n int) string {
	return l.base + l.p.cert + serial + l.p.alt + strconv.Itoa(n)
}

// orders is page n (from 1) of the account's orders list: the first page
// is the list's own URL, later ones add /page/<n>, as Pebble numbers them.
func (l linker) orders(acct int64, n int) string {
	if n <= 1 {
		return l.base + l.p.orders + itoa(acct)
	}
	return l.base + l.p.orders + itoa(acct) + pathPage + strconv.Itoa(n)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
