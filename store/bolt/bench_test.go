package bolt_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
	"github.com/fakeca/fakeca/store/bolt"
)

// benchBackends are the stores the benchmarks compare; memory is the
// baseline.
func benchBackends() map[string]func(b *testing.B) store.Store {
	return map[string]func(b *testing.B) store.Store{
		"memory": func(*testing.B) store.Store { return store.NewMemory() },
		"nosync": func(b *testing.B) store.Store { return open(b, tempPath(b), bolt.Options{NoSync: true}) },
		"sync":   func(b *testing.B) store.Store { return open(b, tempPath(b), bolt.Options{}) },
	}
}

// issue is the store's part of one issuance: CreateOrder with one new
// authorization (three challenges), then UpdateAuthz to valid, as after a
// successful validation.
func issue(ctx context.Context, s store.Store, i int64) error {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	id := acme.Identifier{Type: acme.TypeDNS, Value: fmt.Sprintf("host-%07d.example.com", i)}
	a := store.Authorization{AccountID: i%100 + 1, Identifier: id, Profile: "classic",
		Status: acme.StatusPending, Created: now, Expires: now.Add(7 * 24 * time.Hour)}
	for j, typ := range []string{acme.ChallengeHTTP01, acme.ChallengeDNS01, acme.ChallengeTLSALPN01} {
		token := fmt.Sprintf("%011d%032d", j, i)
		a.Challenges = append(a.Challenges, store.Challenge{Type: typ, Token: token, Status: acme.StatusPending})
	}
	o, err := s.CreateOrder(ctx, store.Order{AccountID: a.AccountID, Identifiers: []acme.Identifier{id},
		Profile: "classic", Created: now, Expires: now.Add(7 * 24 * time.Hour)}, []store.Authorization{a})
	if err != nil {
		return err
	}
	_, err = s.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *store.Authorization) error {
		a.Status, a.Expires = acme.StatusValid, now.Add(30*24*time.Hour)
		a.Challenges[0].Status, a.Challenges[0].Validated = acme.StatusValid, now
		return nil
	})
	return err
}

// BenchmarkIssue measures CreateOrder + UpdateAuthz: "serial" from one
// goroutine (each write waits for its own commit), "parallel" from 64
// (writes share commits). One op is one issuance, two writes.
func BenchmarkIssue(b *testing.B) {
	for name, newStore := range benchBackends() {
		b.Run(name+"/serial", func(b *testing.B) {
			s, ctx := newStore(b), context.Background()
			var i int64
			for b.Loop() {
				i++
				if err := issue(ctx, s, i); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			s, ctx := newStore(b), context.Background()
			var n atomic.Int64
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := issue(ctx, s, n.Add(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
