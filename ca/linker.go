package ca

import (
	"net/http"
	"strconv"
)

// URL paths, as Boulder serves them (reference §8).
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
)

// linker builds absolute URLs for one request. Like Boulder, URLs follow the
// Host the client used, so a CA reached as "fakeca.svc:443" hands out URLs
// a client inside the cluster can follow. The zero value is not usable.
type linker struct{ base string }

func linkerFor(r *http.Request) linker {
	return linker{base: "https://" + r.Host}
}

func (l linker) url(path string) string { return l.base + path }

func (l linker) account(id int64) string { return l.base + pathAccount + itoa(id) }

func (l linker) order(acct, id int64) string {
	return l.base + pathOrder + itoa(acct) + "/" + itoa(id)
}

func (l linker) authz(acct, id int64) string {
	return l.base + pathAuthz + itoa(acct) + "/" + itoa(id)
}

func (l linker) challenge(acct, authz int64, chalID string) string {
	return l.base + pathChallenge + itoa(acct) + "/" + itoa(authz) + "/" + chalID
}

func (l linker) finalize(acct, id int64) string {
	return l.base + pathFinalize + itoa(acct) + "/" + itoa(id)
}

func (l linker) cert(serial string) string { return l.base + pathCert + serial }

func (l linker) certChain(serial string, n int) string {
	return l.base + pathCert + serial + "/" + strconv.Itoa(n)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
