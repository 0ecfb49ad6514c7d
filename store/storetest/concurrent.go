package storetest

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

const workers = 8

func concurrency(t *testing.T, newStore func(*testing.T) store.Store) {
	t.Run("orders and authzs from many goroutines", func(t *testing.T) { concurrentOrders(t, newStore(t)) })
	t.Run("accounts race for one key", func(t *testing.T) { raceForKey(t, newStore(t)) })
	t.Run("one account's key flips back and forth", func(t *testing.T) { flipKey(t, newStore(t)) })
}

// concurrentOrders has workers create orders that share one authorization
// and one order, update their own and the shared objects, and look them up.
// The shared objects count updates, so a lost update shows.
func concurrentOrders(t *testing.T, s store.Store) {
	const perWorker = 20
	ctx := t.Context()
	acct := mustAccount(t, s, "k1")
	shared := mustOrder(t, s, acct.ID, "shared.example")
	sharedAuthz := shared.AuthzIDs[0]
	_, err := s.UpdateAuthz(ctx, sharedAuthz, func(a *store.Authorization) error {
		a.Status, a.Challenges[0].Validated = acme.StatusValid, base()
		return nil
	})
	noErr(t, "UpdateAuthz", err)
	_, err = s.UpdateOrder(ctx, shared.ID, func(o *store.Order) error { o.NotAfter = base(); return nil })
	noErr(t, "UpdateOrder", err)
	sharedKey := store.AuthzKey{AccountID: acct.ID, Identifier: dns("shared.example"), Profile: "classic"}

	var mu sync.Mutex
	seenOrders, seenAuthzs := map[int64]bool{}, map[int64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%d-%d.example", w, i)
				in := newOrder(acct.ID, "shared.example", name)
				in.AuthzIDs = []int64{sharedAuthz}
				o, err := s.CreateOrder(ctx, in, []store.Authorization{newAuthz(acct.ID, name)})
				if err != nil {
					t.Errorf("CreateOrder: %v", err)
					return
				}
				if err := useOrder(t, s, o, sharedKey, shared.ID); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seenOrders[o.ID] || seenAuthzs[o.AuthzIDs[1]] {
					t.Errorf("order %d or authz %d handed out twice", o.ID, o.AuthzIDs[1])
				}
				seenOrders[o.ID], seenAuthzs[o.AuthzIDs[1]] = true, true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	a, err := s.GetAuthz(ctx, sharedAuthz)
	noErr(t, "GetAuthz", err)
	if n := counter(a.Challenges[0].Validated); n != workers*perWorker {
		t.Errorf("shared authz counted %d updates, want %d", n, workers*perWorker)
	}
	o, err := s.GetOrder(ctx, shared.ID)
	noErr(t, "GetOrder", err)
	if n := counter(o.NotAfter); n != workers*perWorker {
		t.Errorf("shared order counted %d updates, want %d", n, workers*perWorker)
	}
}

// useOrder is one worker's round on a fresh order o: validate its own
// authorization, count on the shared authorization and order, and look
// everything up again.
func useOrder(t *testing.T, s store.Store, o store.Order, sharedKey store.AuthzKey, sharedOrder int64) error {
	ctx := t.Context()
	own := o.AuthzIDs[1]
	if _, err := s.UpdateAuthz(ctx, own, func(a *store.Authorization) error {
		a.Status, a.Challenges[0].Status = acme.StatusValid, acme.StatusValid
		return nil
	}); err != nil {
		return fmt.Errorf("UpdateAuthz(own): %w", err)
	}
	if _, err := s.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error {
		a.Challenges[0].Validated = a.Challenges[0].Validated.Add(time.Second)
		return nil
	}); err != nil {
		return fmt.Errorf("UpdateAuthz(shared): %w", err)
	}
	if _, err := s.UpdateOrder(ctx, sharedOrder, func(o *store.Order) error {
		o.NotAfter = o.NotAfter.Add(time.Second)
		return nil
	}); err != nil {
		return fmt.Errorf("UpdateOrder(shared): %w", err)
	}
	ownKey := sharedKey
	ownKey.Identifier = o.Identifiers[1]
	for _, k := range []store.AuthzKey{ownKey, sharedKey} {
		if _, err := s.FindValidAuthz(ctx, k, base()); err != nil {
			return fmt.Errorf("FindValidAuthz(%s): %w", k.Identifier, err)
		}
	}
	got, err := s.FindReusableOrder(ctx, store.OrderKey{AccountID: o.AccountID, Identifiers: o.Identifiers,
		Profile: o.Profile}, base())
	if err != nil || got.ID != o.ID {
		return fmt.Errorf("FindReusableOrder = order %d, %v; want order %d", got.ID, err, o.ID)
	}
	authzs, err := s.GetAuthzs(ctx, o.AuthzIDs)
	if err != nil || len(authzs) != 2 || authzs[1].Status != acme.StatusValid {
		return fmt.Errorf("GetAuthzs = %d authzs, %v; want 2, the second valid", len(authzs), err)
	}
	return nil
}

// raceForKey has workers create accounts with one key, and then move
// accounts to one new key: exactly one may win each race, and the losers
// must be left as they were.
func raceForKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	var won atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			_, err := s.CreateAccount(ctx, newAccount("created"))
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("CreateAccount: %v", err)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Errorf("%d CreateAccount calls with one key succeeded, want 1", n)
	}

	accts := make([]store.Account, workers)
	for i := range accts {
		accts[i] = mustAccount(t, s, fmt.Sprintf("own-%d", i))
	}
	winner := make(chan int64, workers)
	for _, a := range accts {
		wg.Go(func() {
			_, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error { a.KeyID = "contested"; return nil })
			switch {
			case err == nil:
				winner <- a.ID
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("UpdateAccount: %v", err)
			}
		})
	}
	wg.Wait()
	close(winner)
	var wins []int64
	for id := range winner {
		wins = append(wins, id)
	}
	if len(wins) != 1 {
		t.Fatalf("accounts %v all took the key, want exactly one", wins)
	}
	for i, a := range accts {
		key := fmt.Sprintf("own-%d", i)
		got, err := s.GetAccountByKeyID(ctx, key)
		if a.ID == wins[0] {
			wantErr(t, "GetAccountByKeyID(winner's old key)", err, store.ErrNotFound)
			key = "contested"
			got, err = s.GetAccountByKeyID(ctx, key)
		}
		if err != nil || got.ID != a.ID {
			t.Errorf("GetAccountByKeyID(%s) = account %d, %v; want %d", key, got.ID, err, a.ID)
		}
	}
}

// flipKey has workers move one account between two keys while others
// update it without touching the key. At the end exactly its current key
// finds it, and the other key is free.
func flipKey(t *testing.T, s store.Store) {
	const rounds = 100
	ctx := t.Context()
	a := mustAccount(t, s, "ka")
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range rounds {
				_, err := s.UpdateAccount(ctx, a.ID, func(a *store.Account) error {
					runtime.Gosched() // widen the windows between a store's steps
					switch {
					case w%2 == 1:
						a.Contact = []string{fmt.Sprintf("mailto:%d-%d@example.com", w, i)}
					case a.KeyID == "ka":
						a.KeyID = "kb"
					default:
						a.KeyID = "ka"
					}
					return nil
				})
				if err != nil {
					t.Errorf("UpdateAccount: %v", err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	cur, err := s.GetAccount(ctx, a.ID)
	noErr(t, "GetAccount", err)
	free := map[string]string{"ka": "kb", "kb": "ka"}[cur.KeyID]
	got, err := s.GetAccountByKeyID(ctx, cur.KeyID)
	if err != nil || got.ID != a.ID {
		t.Errorf("GetAccountByKeyID(%s) = account %d, %v; want %d", cur.KeyID, got.ID, err, a.ID)
	}
	_, err = s.GetAccountByKeyID(ctx, free)
	wantErr(t, "GetAccountByKeyID(free key)", err, store.ErrNotFound)
	mustAccount(t, s, free)
}
