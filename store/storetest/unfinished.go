package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

func unfinished(t *testing.T, newStore func(*testing.T) store.Store) {
	runAll(t, newStore, []subtest{
		{"an empty store has none", unfinishedEmpty},
		{"orders: from processing to a certificate or an error", unfinishedOrders},
		{"authzs: from a processing challenge to an outcome", unfinishedAuthzs},
		{"created unfinished", unfinishedCreated},
		{"in ID order", unfinishedInOrder},
		{"a failing mutator files nothing", unfinishedMutatorFails},
		{"values do not alias store memory", unfinishedNoAlias},
	})
	t.Run("concurrent updates leave the index exact", func(t *testing.T) { unfinishedConcurrent(t, newStore(t)) })
}

// wantUnfinished fails unless Unfinished returns exactly the orders and
// authzs with the IDs, in that order.
func wantUnfinished(t *testing.T, s store.Store, orderIDs, authzIDs []int64) ([]store.Order, []store.Authorization) {
	t.Helper()
	orders, authzs, err := s.Unfinished(t.Context())
	noErr(t, "Unfinished", err)
	var gotOrders, gotAuthzs []int64
	for _, o := range orders {
		gotOrders = append(gotOrders, o.ID)
	}
	for _, a := range authzs {
		gotAuthzs = append(gotAuthzs, a.ID)
	}
	if !slices.Equal(gotOrders, orderIDs) || !slices.Equal(gotAuthzs, authzIDs) {
		t.Errorf("Unfinished: orders %v, authzs %v; want %v, %v", gotOrders, gotAuthzs, orderIDs, authzIDs)
	}
	return orders, authzs
}

func updateOrder(t *testing.T, s store.Store, id int64, f func(*store.Order)) store.Order {
	t.Helper()
	o, err := s.UpdateOrder(t.Context(), id, func(o *store.Order) error { f(o); return nil })
	noErr(t, "UpdateOrder", err)
	return o
}

func updateAuthz(t *testing.T, s store.Store, id int64, f func(*store.Authorization)) store.Authorization {
	t.Helper()
	a, err := s.UpdateAuthz(t.Context(), id, func(a *store.Authorization) error { f(a); return nil })
	noErr(t, "UpdateAuthz", err)
	return a
}

func beginProcessing(o *store.Order) { o.BeganProcessing, o.CSR = true, []byte{0x30, 0x03, 1, 2, 3} }

func startChallenge(a *store.Authorization) {
	a.Challenges[1].Status, a.Challenges[1].AccountURI = acme.StatusProcessing, "https://ca.example/acme/acct/1"
}

func unfinishedEmpty(t *testing.T, s store.Store) {
	mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	wantUnfinished(t, s, nil, nil)
}

func unfinishedOrders(t *testing.T, s store.Store) {
	acct := mustAccount(t, s, "k1")
	issued := mustOrder(t, s, acct.ID, "a.example")
	failed := mustOrder(t, s, acct.ID, "b.example")
	for _, id := range []int64{issued.ID, failed.ID} {
		updateOrder(t, s, id, beginProcessing)
	}
	orders, _ := wantUnfinished(t, s, []int64{issued.ID, failed.ID}, nil)
	want, err := s.GetOrder(t.Context(), issued.ID)
	noErr(t, "GetOrder", err)
	if len(orders) > 0 {
		same(t, "the unfinished order", orders[0], want)
	}
	updateOrder(t, s, issued.ID, func(o *store.Order) { o.NotAfter = base() }) // still unfinished
	wantUnfinished(t, s, []int64{issued.ID, failed.ID}, nil)
	updateOrder(t, s, issued.ID, func(o *store.Order) { o.CertSerial = serial })
	updateOrder(t, s, failed.ID, func(o *store.Order) { o.Error = problem() })
	wantUnfinished(t, s, nil, nil)
	updateOrder(t, s, failed.ID, func(o *store.Order) { o.Error = nil }) // unfinished again
	wantUnfinished(t, s, []int64{failed.ID}, nil)
}

func unfinishedAuthzs(t *testing.T, s store.Store) {
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example", "b.example", "c.example")
	valid, invalid, deactivated := o.AuthzIDs[0], o.AuthzIDs[1], o.AuthzIDs[2]
	for _, id := range o.AuthzIDs {
		updateAuthz(t, s, id, startChallenge)
	}
	_, authzs := wantUnfinished(t, s, nil, o.AuthzIDs)
	want, err := s.GetAuthz(t.Context(), valid)
	noErr(t, "GetAuthz", err)
	if len(authzs) > 0 {
		same(t, "the unfinished authz", authzs[0], want)
	}
	updateAuthz(t, s, valid, func(a *store.Authorization) {
		a.Status, a.Challenges[1].Status, a.Challenges[1].Validated = acme.StatusValid, acme.StatusValid, base()
	})
	updateAuthz(t, s, invalid, func(a *store.Authorization) {
		a.Status, a.Challenges[1].Status, a.Challenges[1].Error = acme.StatusInvalid, acme.StatusInvalid, problem()
	})
	wantUnfinished(t, s, nil, []int64{deactivated})
	// Deactivated meanwhile: the challenge stays processing, with nothing
	// left to decide.
	updateAuthz(t, s, deactivated, func(a *store.Authorization) { a.Status = acme.StatusDeactivated })
	wantUnfinished(t, s, nil, nil)
}

func unfinishedCreated(t *testing.T, s store.Store) {
	acct := mustAccount(t, s, "k1")
	in := newOrder(acct.ID, "a.example")
	beginProcessing(&in)
	az := newAuthz(acct.ID, "a.example")
	startChallenge(&az)
	o, err := s.CreateOrder(t.Context(), in, []store.Authorization{az, newAuthz(acct.ID, "b.example")})
	noErr(t, "CreateOrder", err)
	wantUnfinished(t, s, []int64{o.ID}, o.AuthzIDs[:1])
}

func unfinishedInOrder(t *testing.T, s store.Store) {
	acct := mustAccount(t, s, "k1")
	var orderIDs, authzIDs []int64
	for i := range 10 {
		o := mustOrder(t, s, acct.ID, fmt.Sprintf("n%d.example", i))
		orderIDs, authzIDs = append(orderIDs, o.ID), append(authzIDs, o.AuthzIDs[0])
	}
	for i := len(orderIDs) - 1; i >= 0; i-- { // file them newest first
		updateOrder(t, s, orderIDs[i], beginProcessing)
		updateAuthz(t, s, authzIDs[i], startChallenge)
	}
	wantUnfinished(t, s, orderIDs, authzIDs)
}

func unfinishedMutatorFails(t *testing.T, s store.Store) {
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	_, err := s.UpdateOrder(t.Context(), o.ID, func(o *store.Order) error { beginProcessing(o); return errMutate })
	wantErr(t, "UpdateOrder", err, errMutate)
	_, err = s.UpdateAuthz(t.Context(), o.AuthzIDs[0], func(a *store.Authorization) error { startChallenge(a); return errMutate })
	wantErr(t, "UpdateAuthz", err, errMutate)
	wantUnfinished(t, s, nil, nil)
}

func unfinishedNoAlias(t *testing.T, s store.Store) {
	o := mustOrder(t, s, mustAccount(t, s, "k1").ID, "a.example")
	updateOrder(t, s, o.ID, beginProcessing)
	updateAuthz(t, s, o.AuthzIDs[0], startChallenge)
	orders, authzs := wantUnfinished(t, s, []int64{o.ID}, o.AuthzIDs)
	if len(orders) != 1 || len(authzs) != 1 {
		return
	}
	wantO, wantA := deepCopy(orders[0]), deepCopy(authzs[0])
	orders[0].CSR[0], orders[0].AuthzIDs[0] = 0xff, -1
	authzs[0].Challenges[1].Status = acme.StatusValid
	orders, authzs = wantUnfinished(t, s, []int64{o.ID}, o.AuthzIDs)
	if len(orders) == 1 && len(authzs) == 1 {
		same(t, "the order after scribbling on a returned copy", orders[0], wantO)
		same(t, "the authz after scribbling on a returned copy", authzs[0], wantA)
	}
}

// unfinishedConcurrent has workers move orders and authzs in and out of
// the unfinished state while others call Unfinished; once they are done,
// Unfinished must name exactly the objects left unfinished.
func unfinishedConcurrent(t *testing.T, s store.Store) {
	const perWorker = 8
	acct := mustAccount(t, s, "k1")
	var (
		mu                  sync.Mutex
		wantOrders, wantAzs []int64
		wg                  sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				o, err := s.CreateOrder(t.Context(), newOrder(acct.ID, fmt.Sprintf("w%d-%d.example", w, i)),
					[]store.Authorization{newAuthz(acct.ID, fmt.Sprintf("w%d-%d.example", w, i))})
				if err != nil {
					t.Errorf("CreateOrder: %v", err)
					return
				}
				steps := 1 + (w+i)%4 // odd: left unfinished
				for n := range steps {
					certSerial, chal := "s", acme.StatusPending // finished
					if n%2 == 0 {
						certSerial, chal = "", acme.StatusProcessing
					}
					_, err := s.UpdateOrder(t.Context(), o.ID, func(o *store.Order) error {
						o.BeganProcessing, o.CertSerial = true, certSerial
						return nil
					})
					if err == nil {
						_, err = s.UpdateAuthz(t.Context(), o.AuthzIDs[0], func(a *store.Authorization) error {
							a.Challenges[0].Status = chal
							return nil
						})
					}
					if err == nil {
						_, _, err = s.Unfinished(t.Context())
					}
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
				}
				if steps%2 == 1 {
					mu.Lock()
					wantOrders, wantAzs = append(wantOrders, o.ID), append(wantAzs, o.AuthzIDs[0])
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(wantOrders)
	slices.Sort(wantAzs)
	wantUnfinished(t, s, wantOrders, wantAzs)
}
