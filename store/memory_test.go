package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestMemoryZeroValue(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return new(store.Memory) })
}

func TestMemoryIDs(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	a, err := m.CreateAccount(ctx, store.Account{KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	o1, err := m.CreateOrder(ctx, store.Order{AccountID: a.ID}, []store.Authorization{{}, {}})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := m.CreateOrder(ctx, store.Order{AccountID: a.ID}, []store.Authorization{{}})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(a.ID, o1.ID, o1.AuthzIDs, o2.ID, o2.AuthzIDs)
	if want := "1 1 [1 2] 2 [3]"; got != want {
		t.Errorf("IDs %q, want %q (separate sequences from 1)", got, want)
	}
}

// TestMemoryMutatorPanic checks that a panicking mutator leaves its shard
// unlocked.
func TestMemoryMutatorPanic(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	o, err := m.CreateOrder(ctx, store.Order{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = m.UpdateOrder(ctx, o.ID, func(*store.Order) error { panic("boom") })
	}()
	if _, err := m.UpdateOrder(ctx, o.ID, func(*store.Order) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryRetainedPerOrder keeps the store's share of the ≤ 4 KiB per
// order budget in check. See BenchmarkCreateOrder for the number.
func TestMemoryRetainedPerOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory of 20000 orders")
	}
	const n, limit = 20000, 2048
	if got := retainedPerOrder(n); got > limit {
		t.Errorf("%.0f bytes retained per order, want ≤ %d", got, limit)
	}
}

// retainedPerOrder creates n realistic orders (one new authz with three
// challenges each, valid afterwards as after a successful validation) and
// returns the heap growth per order.
func retainedPerOrder(n int) float64 {
	ctx := context.Background()
	m := store.NewMemory()
	before := heap()
	for i := range n {
		createRealistic(ctx, m, i)
	}
	after := heap()
	runtime.KeepAlive(m)
	return float64(int64(after)-int64(before)) / float64(n)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func now() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

// createRealistic stores what the CA stores for a one-name order and
// validates its authorization. Every string is new, as it would be when
// parsed from a request.
func createRealistic(ctx context.Context, m *store.Memory, i int) store.Order {
	name := fmt.Sprintf("host-%07d.example.com", i)
	id := acme.Identifier{Type: acme.TypeDNS, Value: name}
	now := now()
	a := store.Authorization{
		AccountID: int64(i%100 + 1), Identifier: id, Profile: "classic", Status: acme.StatusPending,
		Created: now, Expires: now.Add(7 * 24 * time.Hour),
	}
	for j, typ := range []string{acme.ChallengeHTTP01, acme.ChallengeDNS01, acme.ChallengeTLSALPN01} {
		token := fmt.Sprintf("%011d%032d", j, i) // 43 characters, like base64url of 32 bytes
		a.Challenges = append(a.Challenges, store.Challenge{Type: typ, Token: token, Status: acme.StatusPending})
	}
	o, err := m.CreateOrder(ctx, store.Order{
		AccountID: a.AccountID, Identifiers: []acme.Identifier{id}, Profile: "classic",
		Created: now, Expires: now.Add(7 * 24 * time.Hour),
	}, []store.Authorization{a})
	if err != nil {
		panic(err)
	}
	_, err = m.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error {
		a.Status, a.Expires = acme.StatusValid, now.Add(30*24*time.Hour)
		a.Challenges[0].Status, a.Challenges[0].Validated = acme.StatusValid, now
		return nil
	})
	if err != nil {
		panic(err)
	}
	return o
}

func BenchmarkCreateOrder(b *testing.B) {
	ctx := context.Background()
	m := store.NewMemory()
	before := heap()
	b.ResetTimer()
	for i := range b.N {
		createRealistic(ctx, m, i)
	}
	b.StopTimer()
	after := heap()
	runtime.KeepAlive(m)
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "B/order-retained")
}

// BenchmarkMemoryParallel measures read and update throughput with every
// goroutine working on random objects among 10000 orders.
func BenchmarkMemoryParallel(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	m := store.NewMemory()
	orders := make([]store.Order, n)
	for i := range orders {
		orders[i] = createRealistic(ctx, m, i)
	}
	keys := make([]store.AuthzKey, n)
	for i, o := range orders {
		keys[i] = store.AuthzKey{AccountID: o.AccountID, Identifier: o.Identifiers[0], Profile: "classic"}
	}
	cases := map[string]func(r *rand.Rand) error{
		"GetOrder": func(r *rand.Rand) error { _, err := m.GetOrder(ctx, orders[r.IntN(n)].ID); return err },
		"GetAuthz": func(r *rand.Rand) error { _, err := m.GetAuthz(ctx, orders[r.IntN(n)].AuthzIDs[0]); return err },
		"UpdateAuthz": func(r *rand.Rand) error {
			_, err := m.UpdateAuthz(ctx, orders[r.IntN(n)].AuthzIDs[0], func(a *store.Authorization) error {
				a.Challenges[1].Validated = a.Challenges[1].Validated.Add(time.Second)
				return nil
			})
			return err
		},
		"UpdateOrder": func(r *rand.Rand) error {
			_, err := m.UpdateOrder(ctx, orders[r.IntN(n)].ID, func(o *store.Order) error {
				o.NotAfter = o.NotAfter.Add(time.Second)
				return nil
			})
			return err
		},
		"FindValidAuthz": func(r *rand.Rand) error { _, err := m.FindValidAuthz(ctx, keys[r.IntN(n)], now()); return err },
	}
	for _, name := range []string{"GetOrder", "GetAuthz", "UpdateAuthz", "UpdateOrder", "FindValidAuthz"} {
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if err := cases[name](r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
