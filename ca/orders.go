package ca

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// Orders-list texts, Pebble's (wfe/wfe.go ListOrders): Boulder serves no
// orders list. Both are malformed problems with status 404 (Pebble's
// NotFoundProblem, our acme.NotFound).
const (
	detailOrdersWrongAccount = "Wrong account ID"
	detailOrdersBadPage      = "Invalid page number"
)

// listOrders handles POST-as-GET to an account's orders list,
// /acme/orders/<acct>[/page/<n>] (RFC 8555 §7.1.2.1), which is served only
// with Config.OrdersPerPage. It answers as Pebble's ListOrders does:
//   - JWS and POST-as-GET checks come first; then only the account itself
//     may read its list: another account's list (or "<acct>" spelt
//     otherwise, e.g. "01") is malformed/404 "Wrong account ID";
//   - the first page is the list's own URL; /page/<n> needs n >= 2, and
//     anything else (1, 0, -1, "x") is malformed/404 "Invalid page number";
//   - orders are listed oldest first (Pebble appends each new order to the
//     account's list) and invalid ones are left out before paging;
//   - a page past the end is an empty list with 200, not an error;
//   - every page after which more orders remain carries
//     Link: <next page>;rel="next"; the last carries none.
//
// "Invalid" is the status GET order shows (orderStatus at now). Pebble
// derives it on listing from the order's error and its authorizations
// (invalid, deactivated or expired ones), but its orders never expire as
// such; fakeca's do (Boulder's rule), so an order past its expiry is left
// out too: fakeca's choice, so that the list and the orders agree.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) error {
	req, err := s.verifyPostAsGet(r)
	if err != nil {
		return err
	}
	vars := mux.Vars(r)
	if vars["acct"] != itoa(req.acct.ID) {
		return acme.New(acme.NotFound, detailOrdersWrongAccount)
	}
	page := 1
	if p, ok := vars["page"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 2 {
			return acme.New(acme.NotFound, detailOrdersBadPage)
		}
		page = n
	}
	l := s.linkerFor(r)
	urls, more, err := s.orderPage(r.Context(), l, req.acct.ID, page)
	if err != nil {
		return err
	}
	if more {
		w.Header().Add("Link", link(l.orders(req.acct.ID, page+1), "next"))
	}
	writeJSON(w, "application/json", http.StatusOK, ordersJSON{Orders: urls})
	return nil
}

// orderPage returns the URLs of page n (from 1) of the account's orders
// that are not invalid, and whether a later page lists any. It reads the
// authorizations of the orders up to the first one past the page, not of
// all of them.
func (s *Server) orderPage(ctx context.Context, l linker, acct int64, n int) ([]string, bool, error) {
	orders, err := s.store.AccountOrders(ctx, acct)
	if err != nil {
		return nil, false, err
	}
	size := s.cfg.OrdersPerPage
	urls := []string{}
	if n-1 > len(orders)/size { // starts past every order (and (n-1)*size cannot overflow below)
		return urls, false, nil
	}
	start, now, listed := (n-1)*size, s.clock.Now(), 0
	for _, o := range orders {
		invalid, err := s.invalidAt(ctx, o, now)
		if err != nil {
			return nil, false, err
		}
		if invalid {
			continue
		}
		if listed == start+size {
			return urls, true, nil
		}
		if listed >= start {
			urls = append(urls, l.order(acct, o.ID))
		}
		listed++
	}
	return urls, false, nil
}

// invalidAt reports whether the order shows as invalid at now, reading its
// authorizations only when the order alone (an error, its expiry) does not
// decide.
func (s *Server) invalidAt(ctx context.Context, o store.Order, now time.Time) (bool, error) {
	if orderStatus(o, nil, now) == acme.StatusInvalid {
		return true, nil
	}
	authzs, err := s.store.GetAuthzs(ctx, o.AuthzIDs)
	if err != nil {
		return false, err
	}
	return orderStatus(o, authzs, now) == acme.StatusInvalid, nil
}
