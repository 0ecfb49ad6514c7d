package storetest

import (
	"sync"
	"testing"

	"github.com/fakeca/fakeca/store"
)

func accountOrders(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"lists the account's orders, in ID order, as stored", accountOrdersList},
		{"an account without orders, or no account, lists none", accountOrdersNone},
		{"an order given another account moves to its list", accountOrdersMoved},
		{"values do not alias store memory", accountOrdersNoAlias},
		{"orders created concurrently are all listed", accountOrdersConcurrent},
	})
}

// wantAccountOrders checks that AccountOrders(account) returns want.
func wantAccountOrders(t *testing.T, s store.Store, account int64, want []store.Order) {
	t.Helper()
	got, err := s.AccountOrders(t.Context(), account)
	noErr(t, "AccountOrders", err)
	same(t, "AccountOrders of account "+show(account), got, want)
}

func accountOrdersList(t *testing.T, s store.Store) {
	a, b := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
	o1 := mustOrder(t, s, a.ID, "a.example")
	o2 := mustOrder(t, s, b.ID, "a.example")
	o3 := mustOrder(t, s, a.ID, "b.example")
	o4 := mustOrder(t, s, a.ID, "c.example")
	o3 = updateOrder(t, s, o3.ID, func(o *store.Order) { o.Error = problem() })
	o4 = updateOrder(t, s, o4.ID, beginProcessing)
	wantAccountOrders(t, s, a.ID, []store.Order{o1, o3, o4})
	wantAccountOrders(t, s, b.ID, []store.Order{o2})
}

func accountOrdersNone(t *testing.T, s store.Store) {
	a := mustAccount(t, s, "k1")
	mustOrder(t, s, mustAccount(t, s, "k2").ID, "a.example")
	wantAccountOrders(t, s, a.ID, nil)
	wantAccountOrders(t, s, a.ID+1000, nil)
}

func accountOrdersMoved(t *testing.T, s store.Store) {
	a, b := mustAccount(t, s, "k1"), mustAccount(t, s, "k2")
	o1 := mustOrder(t, s, a.ID, "a.example")
	o2 := mustOrder(t, s, b.ID, "b.example")
	o3 := mustOrder(t, s, a.ID, "c.example")
	o1 = updateOrder(t, s, o1.ID, func(o *store.Order) { o.AccountID = b.ID })
	wantAccountOrders(t, s, a.ID, []store.Order{o3})
	wantAccountOrders(t, s, b.ID, []store.Order{o1, o2})
	o1 = updateOrder(t, s, o1.ID, func(o *store.Order) { o.AccountID = a.ID })
	wantAccountOrders(t, s, a.ID, []store.Order{o1, o3})
	wantAccountOrders(t, s, b.ID, []store.Order{o2})
}

func accountOrdersNoAlias(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustAccount(t, s, "k1")
	in := newOrder(a.ID, "a.example")
	in.Error = problem()
	o, err := s.CreateOrder(ctx, in, []store.Authorization{newAuthz(a.ID, "a.example")})
	noErr(t, "CreateOrder", err)
	want := deepCopy(o)
	got, err := s.AccountOrders(ctx, a.ID)
	noErr(t, "AccountOrders", err)
	if len(got) != 1 {
		t.Fatalf("AccountOrders: %d orders, want 1", len(got))
	}
	got[0].Identifiers[0].Value, got[0].AuthzIDs[0], got[0].Error.Subproblems[0].Detail = "x", 0, "x"
	wantAccountOrders(t, s, a.ID, []store.Order{want})
}

// accountOrdersConcurrent has workers create orders for one account while
// others read its list; at the end every order is listed, in ID order.
func accountOrdersConcurrent(t *testing.T, s store.Store) {
	const perWorker = 10
	a := mustAccount(t, s, "k1")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []store.Order
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var err error
				if w%2 == 1 {
					_, err = s.AccountOrders(t.Context(), a.ID)
				} else {
					var o store.Order
					o, err = s.CreateOrder(t.Context(), newOrder(a.ID, "a.example"), nil)
					mu.Lock()
					created = append(created, o)
					mu.Unlock()
				}
				if err != nil {
					t.Errorf("worker %d, step %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.AccountOrders(t.Context(), a.ID)
	noErr(t, "AccountOrders", err)
	ids := orderIDs(got)
	if len(ids) != len(created) {
		t.Fatalf("AccountOrders lists %d orders, %d were created", len(ids), len(created))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("AccountOrders IDs %v are not in ascending order", ids)
		}
	}
}
