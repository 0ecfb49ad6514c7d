package ca

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/faults"
)

// handlerFunc is an ACME handler: it writes a success response or returns
// an error that the route wrapper renders as a problem document.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// methods maps HTTP methods to handlers for one path.
type methods map[string]handlerFunc

// routes is the one routing table of the ACME listener (reference §8).
// Each route is named by its Boulder pattern (for metrics and fault
// operations) and served at the same pattern in the active PathSet.
func (s *Server) routes() http.Handler {
	m := mux.NewRouter()
	p := s.paths
	route := func(name, pattern string, ms methods) {
		if get, ok := ms[http.MethodGet]; ok {
			ms[http.MethodHead] = get // Boulder answers HEAD wherever it answers GET
		}
		m.Handle(pattern, named(name, s.endpoint(name, ms)))
	}
	const acct, id = "{acct:[0-9]+}", "{id:[0-9]+}"
	route(pathDirectory, pathDirectory, methods{http.MethodGet: s.directory, http.MethodPost: s.directory})
	route(pathPebbleDir, pathPebbleDir, methods{http.MethodGet: s.directory, http.MethodPost: s.directory})
	route(pathNewNonce, p.newNonce, methods{http.MethodHead: s.newNonce, http.MethodGet: s.newNonce, http.MethodPost: s.newNonce})
	route(pathNewAccount, p.newAccount, methods{http.MethodPost: s.newAccount})
	route(pathAccount+acct, p.account+acct, methods{http.MethodPost: s.account})
	route(pathNewOrder, p.newOrder, methods{http.MethodPost: s.newOrder})
	route(pathOrder+acct+"/"+id, p.order+acct+p.sep+id, methods{http.MethodGet: s.getOrder, http.MethodPost: s.getOrder})
	route(pathAuthz+acct+"/"+id, p.authz+acct+p.sep+id, methods{http.MethodGet: s.authz, http.MethodPost: s.authz})
	route(pathChallenge+acct+"/{authz}/{chal}", p.challenge+acct+p.sep+"{authz:[0-9]+}"+p.sep+"{chal}",
		methods{http.MethodGet: s.challenge, http.MethodPost: s.challenge})
	route(pathFinalize+acct+"/"+id, p.finalize+acct+p.sep+id, methods{http.MethodPost: s.finalize})
	route(pathCert+"{serial}", p.cert+"{serial}", methods{http.MethodGet: s.certificate, http.MethodPost: s.certificate})
	route(pathCert+"{serial}/{chain}", p.cert+"{serial}"+p.alt+"{chain:[0-9]+}",
		methods{http.MethodGet: s.certificate, http.MethodPost: s.certificate})
	route(pathRevoke, p.revoke, methods{http.MethodPost: s.revoke})
	route(pathKeyChange, p.keyChange, methods{http.MethodPost: s.keyChange})
	route(pathRenewalInfo+"/{certID}", p.renewalInfo+"/{certID}", methods{http.MethodGet: s.renewalInfo, http.MethodPost: s.renewalInfo})
	if s.cfg.OrdersPerPage > 0 { // Boulder has no orders list: only on request
		route(pathOrders+acct, p.orders+acct, methods{http.MethodPost: s.listOrders})
		route(pathOrders+acct+pathPage+"{page}", p.orders+acct+pathPage+"{page}", methods{http.MethodPost: s.listOrders})
	}
	m.NotFoundHandler = named("", s.endpoint("", nil))
	return m
}

// detailNotFoundPage and detailMethodNotAllowed are Boulder's texts for an
// unknown path and a wrong method.
const (
	detailNotFoundPage     = "Page not found"
	detailMethodNotAllowed = "Method not allowed"
	// detailNoUserAgent is Pebble's refusal of a request without a
	// User-Agent (Config.RequireUserAgent).
	detailNoUserAgent = "User-Agent request header must be set"
)

// endpoint wraps one path's handlers with the headers every ACME response
// carries — Replay-Nonce on non-GET responses (errors included) and the
// directory Link on all but the directory — then the request-level fault
// rules for the path's operation.
func (s *Server) endpoint(path string, ms methods) http.Handler {
	isDir := path == pathDirectory || path == pathPebbleDir
	dispatch := s.dispatch(ms)
	if s.faults != nil {
		op := operationOf(path)
		dispatch = s.faults.Middleware(func(*http.Request) faults.Operation { return op }, s.writeError)(dispatch)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=0, no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Replay-Nonce", s.nonces.issue())
		}
		if !isDir {
			h.Add("Link", link(s.linkerFor(r).url(s.paths.directory), "index"))
		}
		if s.cfg.RequireUserAgent && r.UserAgent() == "" {
			s.writeError(w, r, acme.New(acme.Malformed, detailNoUserAgent))
			return
		}
		dispatch.ServeHTTP(w, r)
	})
}

// dispatch calls the handler for the request's method and renders its
// error, unless a fault already answered.
func (s *Server) dispatch(ms methods) http.Handler {
	allow := allowHeader(ms)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ms == nil {
			s.writeError(w, r, acme.New(acme.NotFound, detailNotFoundPage))
			return
		}
		fn, ok := ms[r.Method]
		if !ok {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, acme.New(acme.MethodNotAllowed, detailMethodNotAllowed))
			return
		}
		if err := fn(w, r); err != nil && !handled(err) {
			s.writeError(w, r, err)
		}
	})
}

// operationOf names a route's operation for fault rules.
func operationOf(path string) faults.Operation {
	for prefix, op := range map[string]faults.Operation{
		pathDirectory: faults.OpDirectory, pathPebbleDir: faults.OpDirectory, pathNewNonce: faults.OpNewNonce,
		pathNewAccount: faults.OpNewAccount, pathAccount: faults.OpAccount, pathNewOrder: faults.OpNewOrder,
		pathOrder: faults.OpOrder, pathAuthz: faults.OpAuthz, pathChallenge: faults.OpChallenge,
		pathFinalize: faults.OpFinalize, pathCert: faults.OpCertificate, pathRevoke: faults.OpRevoke,
		pathKeyChange: faults.OpKeyChange, pathRenewalInfo: faults.OpRenewalInfo, pathOrders: faults.OpListOrders,
	} {
		if path == prefix || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(path, prefix)) ||
			strings.HasPrefix(path, prefix+"/") {
			return op
		}
	}
	return ""
}

func allowHeader(ms methods) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		if _, ok := ms[m]; ok {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

func link(url, rel string) string { return "<" + url + ">;rel=\"" + rel + "\"" }
