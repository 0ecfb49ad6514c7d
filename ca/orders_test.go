package ca

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fakeca/fakeca/faults"
)

// ordersEnv is a server that serves the orders list with pages of size.
func ordersEnv(t *testing.T, size int, paths PathSet) *env {
	return newEnv(t, envConfig{cfg: func(c *Config) { c.OrdersPerPage, c.Paths = size, paths }})
}

// listOrders reads one page of c's orders list at url, which must succeed,
// and returns its order URLs and its Link rel="next" ("" if none).
func (c *client) listOrders(url string) (orders []string, next string) {
	c.e.t.Helper()
	r := c.post(url, nil)
	wantStatus(c.e.t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		c.e.t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Orders *[]string `json:"orders"`
	}
	r.decode(c.e.t, &body)
	if body.Orders == nil {
		c.e.t.Fatalf("orders list %s has no \"orders\" array: %s", url, r.body)
	}
	return *body.Orders, linkRel(c.e.t, r.header, "next")
}

// linkRel returns the one Link of relation rel in h, or "".
func linkRel(t testing.TB, h http.Header, rel string) string {
	t.Helper()
	var out []string
	for _, l := range h.Values("Link") {
		if u, ok := strings.CutSuffix(l, `>;rel="`+rel+`"`); ok {
			out = append(out, strings.TrimPrefix(u, "<"))
		}
	}
	if len(out) > 1 {
		t.Errorf("Link rel=%q %d times: %q", rel, len(out), out)
	}
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

// TestOrdersListPages: seven listable orders, pending, ready and valid,
// with two invalid ones among them, list three per page, oldest first, in
// pages of 3, 3 and 1 linked by rel="next"; a page past the end is empty;
// orders past their expiry leave the list.
func TestOrdersListPages(t *testing.T) {
	t.Parallel()
	e := ordersEnv(t, 3, PathsBoulder)
	c := e.newAccount()
	var listed []string
	for i := range 9 {
		name := fmt.Sprintf("o%d.orders.test", i)
		switch i {
		case 1, 5: // invalid: a deactivated authorization
			o, _ := c.newOrder(name)
			wantStatus(t, c.post(o.Authorizations[0], map[string]any{"status": "deactivated"}), http.StatusOK)
		case 2: // ready
			o, u := c.newOrder(name)
			c.authorize(o)
			listed = append(listed, u)
		case 3: // valid
			listed = append(listed, c.issue(name).orderURL)
		default: // pending
			_, u := c.newOrder(name)
			listed = append(listed, u)
		}
	}
	list := e.url(pathOrders + itoa(c.id()))
	pages := []struct {
		url, next string
		orders    []string
	}{
		{list, list + "/page/2", listed[0:3]},
		{list + "/page/2", list + "/page/3", listed[3:6]},
		{list + "/page/3", "", listed[6:7]},
		{list + "/page/4", "", []string{}},
		{list + "/page/99999999999", "", []string{}},
	}
	for _, p := range pages {
		orders, next := c.listOrders(p.url)
		if !slices.Equal(orders, p.orders) || next != p.next {
			t.Errorf("%s:\n got %q, next %q\nwant %q, next %q", p.url, orders, next, p.orders, p.next)
		}
	}
	e.clk.Step(8 * 24 * time.Hour) // past every order's expiry
	if orders, next := c.listOrders(list); len(orders) != 0 || next != "" {
		t.Errorf("after the orders expired: %q, next %q; want none", orders, next)
	}
}

// TestOrdersListRefused: the list is POST-as-GET for its own account only,
// with Pebble's problems for another account and for bad page numbers.
func TestOrdersListRefused(t *testing.T) {
	t.Parallel()
	e := ordersEnv(t, 3, PathsBoulder)
	owner, other := e.newAccount(), e.newAccount()
	owner.newOrder("a.orders.test")
	list := e.url(pathOrders + itoa(owner.id()))
	tests := []struct {
		name   string
		send   func() *response
		typ    string
		status int
		detail string
	}{
		{"another account", func() *response { return other.post(list, nil) },
			"malformed", http.StatusNotFound, detailOrdersWrongAccount},
		{"another account, page 2", func() *response { return other.post(list+"/page/2", nil) },
			"malformed", http.StatusNotFound, detailOrdersWrongAccount},
		{"the account ID spelt with a leading zero", func() *response {
			return owner.post(e.url(pathOrders+"0"+itoa(owner.id())), nil)
		}, "malformed", http.StatusNotFound, detailOrdersWrongAccount},
		{"a payload", func() *response { return owner.post(list, struct{}{}) },
			"malformed", http.StatusBadRequest, detailPostAsGetNotEmpty},
		{"GET", func() *response { return e.get(list) },
			"malformed", http.StatusMethodNotAllowed, detailMethodNotAllowed},
	}
	for _, page := range []string{"1", "0", "-1", "x", "2x"} {
		tests = append(tests, struct {
			name   string
			send   func() *response
			typ    string
			status int
			detail string
		}{"page " + page, func() *response { return owner.post(list+"/page/"+page, nil) },
			"malformed", http.StatusNotFound, detailOrdersBadPage})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, tc.send(), tc.typ, tc.status, tc.detail)
		})
	}
}

// accountOrdersField returns the "orders" member of an account object
// and whether it has one.
func accountOrdersField(t testing.TB, r *response) (string, bool) {
	t.Helper()
	var acct map[string]any
	r.decode(t, &acct)
	v, ok := acct["orders"]
	s, _ := v.(string)
	return s, ok
}

// TestOrdersListAccountField: every account object names the list when it
// is served (as Pebble's do), and none does by default (as Boulder's).
func TestOrdersListAccountField(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 3} {
		t.Run(fmt.Sprintf("ordersPerPage %d", size), func(t *testing.T) {
			t.Parallel()
			e := ordersEnv(t, size, PathsBoulder)
			c := e.client(newKey(t))
			responses := map[string]*response{
				"new-account (201)": c.postJWK(e.url(pathNewAccount), agreed(nil)),
				"new-account (200)": c.postJWK(e.url(pathNewAccount), agreed(nil)),
			}
			c.kid = responses["new-account (201)"].header.Get("Location")
			responses["account POST-as-GET"] = c.post(c.kid, nil)
			responses["account update"] = c.post(c.kid, map[string]any{"contact": []string{"mailto:a@example.com"}})
			want := e.url(pathOrders + itoa(c.id()))
			for name, r := range responses {
				got, ok := accountOrdersField(t, r)
				switch {
				case size == 0 && ok:
					t.Errorf("%s: orders = %q; Boulder's accounts have no orders field", name, got)
				case size > 0 && got != want:
					t.Errorf("%s: orders = %q, want %q", name, got, want)
				}
			}
			if size == 0 {
				wantProblem(t, c.post(want, nil), "malformed", http.StatusNotFound, detailNotFoundPage)
			}
		})
	}
}

// TestOrdersListPebblePaths: with Pebble's paths the list is Pebble's
// /list-orderz/<acct>[/page/<n>], and order URLs are Pebble-mode ones.
func TestOrdersListPebblePaths(t *testing.T) {
	t.Parallel()
	e := ordersEnv(t, 1, PathsPebble)
	c := e.client(newKey(t))
	c.nonce = e.do(http.MethodHead, e.url("/nonce-plz"), "", nil).header.Get("Replay-Nonce")
	r := c.postJWK(e.url("/sign-me-up"), agreed(nil))
	wantStatus(t, r, http.StatusCreated)
	c.kid = r.header.Get("Location")
	id := strings.TrimPrefix(c.kid, e.url("/my-account/"))
	list := e.url("/list-orderz/" + id)
	if got, _ := accountOrdersField(t, r); got != list {
		t.Errorf("account orders = %q, want %q", got, list)
	}
	var urls []string
	for _, name := range []string{"a.orders.test", "b.orders.test"} {
		r := c.post(e.url("/order-plz"), map[string]any{"identifiers": dnsIDs(name)})
		wantStatus(t, r, http.StatusCreated)
		urls = append(urls, r.header.Get("Location"))
	}
	if orders, next := c.listOrders(list); !slices.Equal(orders, urls[:1]) || next != list+"/page/2" {
		t.Errorf("page 1: %q, next %q; want %q, next %s/page/2", orders, next, urls[:1], list)
	}
	if orders, next := c.listOrders(list + "/page/2"); !slices.Equal(orders, urls[1:]) || next != "" {
		t.Errorf("page 2: %q, next %q; want %q and no next", orders, next, urls[1:])
	}
	if !strings.HasPrefix(urls[0], e.url("/my-order/"+id+"-")) {
		t.Errorf("order URL %q is not Pebble-mode", urls[0])
	}
}

// TestOrdersListFaultOperation: the list's routes are the list-orders
// fault operation.
func TestOrdersListFaultOperation(t *testing.T) {
	t.Parallel()
	for _, route := range []string{pathOrders + "{acct:[0-9]+}", pathOrders + "{acct:[0-9]+}/page/{page}"} {
		if got := operationOf(route); got != faults.OpListOrders {
			t.Errorf("operationOf(%q) = %q, want %q", route, got, faults.OpListOrders)
		}
	}
	if got := operationOf(pathOrder + "{acct:[0-9]+}/{id:[0-9]+}"); got != faults.OpOrder {
		t.Errorf("operationOf(order) = %q, want %q", got, faults.OpOrder)
	}
}
