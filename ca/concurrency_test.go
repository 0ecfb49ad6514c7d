package ca

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/store"
)

// TestConcurrentIssuance runs 16 clients against one server (two per
// account key, so registrations race too); run it under -race.
func TestConcurrentIssuance(t *testing.T) {
	t.Parallel()
	const (
		workers = 16
		orders  = 3
	)
	e := newEnv(t, envConfig{})
	keys := make([]*client, workers/2)
	for i := range keys {
		keys[i] = e.client(newKey(t))
	}
	var (
		mu      sync.Mutex
		serials = map[string]string{}
		kids    = map[int]string{}
	)
	t.Run("workers", func(t *testing.T) {
		for i := range workers {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				c := e.with(t).client(keys[i/2].key)
				c.register()
				mu.Lock()
				if prev, ok := kids[i/2]; ok && prev != c.kid {
					t.Errorf("one key, two accounts: %q and %q", prev, c.kid)
				}
				kids[i/2] = c.kid
				mu.Unlock()
				for j := range orders {
					name := fmt.Sprintf("w%d-o%d.test", i, j)
					got := c.issue(name)
					mu.Lock()
					if prev, dup := serials[got.serial]; dup {
						t.Errorf("serial %s issued for %s and %s", got.serial, prev, name)
					}
					serials[got.serial] = name
					mu.Unlock()
				}
			})
		}
	})
	if len(serials) != workers*orders {
		t.Errorf("%d certificates, want %d", len(serials), workers*orders)
	}
}

// TestHandlerPanic: a panic on the request path becomes serverInternal
// with Boulder's Retry-After: 60, and the server keeps serving.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{wrapStore: func(s store.Store) store.Store {
		return &hookStore{Store: s, getOrder: func(int64) { panic("store exploded") }}
	}})
	acct := e.newAccount()
	_, orderURL := acct.newOrder("panic.test")
	for name, send := range map[string]func() *response{
		"GET":         func() *response { return e.get(orderURL) },
		"POST-as-GET": func() *response { return acct.post(orderURL, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			r := send()
			wantProblem(t, r, "serverInternal", 500, "Problem processing request")
			if got := r.header.Get("Retry-After"); got != "60" {
				t.Errorf("Retry-After %q, want 60", got)
			}
			if (name == "POST-as-GET") != (r.header.Get("Replay-Nonce") != "") {
				t.Errorf("Replay-Nonce %q on %s", r.header.Get("Replay-Nonce"), name)
			}
		})
	}
	wantStatus(t, e.get(e.url(pathDirectory)), http.StatusOK)
}

// TestWorkerPanic: a panic in a validation job must not take the server
// down. It runs the scenario in a child process, since an unrecovered
// panic in a worker goroutine kills the whole test binary.
func TestWorkerPanic(t *testing.T) {
	if os.Getenv("FAKECA_WORKER_PANIC") == "1" {
		workerPanicScenario(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerPanic$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "FAKECA_WORKER_PANIC=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the server process died: %v\n%s", err, out)
	}
}

func workerPanicScenario(t *testing.T) {
	e := newEnv(t, envConfig{validator: validatorFunc(func(context.Context, challengeval.Request) error {
		panic("validator exploded")
	})})
	acct := e.newAccount()
	o, _ := acct.newOrder("worker-panic.test")
	acct.authorize(o)
	a := e.getAuthz(o.Authorizations[0])
	if a.Status != acme.StatusInvalid || a.Challenges[0].Error == nil || a.Challenges[0].Error.Type != acme.ServerInternal.URN() {
		t.Errorf("authorization %s, challenge error %+v; want invalid with serverInternal", a.Status, a.Challenges[0].Error)
	}
}
