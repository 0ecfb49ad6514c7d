package instance_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/faults"
	"github.com/fakeca/fakeca/ratelimit"
)

// TestRateLimitsSurviveRestart: with a DataDir, rate-limit state is kept as
// Let's Encrypt keeps it. An account that exhausted NewOrdersPerAccount is
// still refused after a restart, with Boulder's text; a paused identifier
// is still paused; and the unpause link issued before the restart still
// unpauses it.
func TestRateLimitsSurviveRestart(t *testing.T) {
	cfg := rlConfig(t, []ratelimit.Override{rlLimit(ratelimit.NewOrdersPerAccount, 2, 3*time.Hour),
		rlLimit(ratelimit.FailedAuthorizationsForPausingPerDomainPerAccount, 1, 24*time.Hour)}, faults.Config{})
	cfg.DataDir = t.TempDir()
	clk := clocktesting.NewFakeClock(time.Now())
	first := rlStartConfig(t, cfg, clk)
	orders, pauser := first.newClient(t), first.newClient(t)
	ctx := e2eContext(t)
	for _, n := range []string{"a.orders.test", "b.orders.test"} {
		if _, err := orders.AuthorizeOrder(ctx, acme.DomainIDs(n)); err != nil {
			t.Fatalf("order %s: %v", n, err)
		}
	}
	_, err := orders.AuthorizeOrder(ctx, acme.DomainIDs("c.orders.test"))
	first.wantLimited(t, err, orders.tap.last(), rlDetailNewOrders, 90*time.Minute)
	pauser.fail(t, "p.fail.test")
	pauser.fail(t, "p.fail.test")
	_, err = pauser.AuthorizeOrder(ctx, acme.DomainIDs("p.fail.test"))
	link := first.wantPaused(t, err, pauser.tap.last())
	if err := first.inst.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	clk.Step(time.Minute)
	second := rlStartConfig(t, cfg, clk)
	orders, pauser = second.sameKey(t, orders), second.sameKey(t, pauser)
	_, err = orders.AuthorizeOrder(ctx, acme.DomainIDs("c.orders.test"))
	second.wantLimited(t, err, orders.tap.last(), rlDetailNewOrders, 89*time.Minute)
	_, err = pauser.AuthorizeOrder(ctx, acme.DomainIDs("p.fail.test"))
	second.wantPaused(t, err, pauser.tap.last())

	// The old link names the first instance's address; its JWT is what
	// must still verify.
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = second.inst.ACMEAddr()
	second.unpause(t, u.String())
	clk.Step(90 * time.Minute) // the pausing account's two failed orders used NewOrdersPerAccount up too
	if _, err := pauser.AuthorizeOrder(ctx, acme.DomainIDs("p.fail.test")); err != nil {
		t.Fatalf("order after unpausing with the link from before the restart: %v", err)
	}
}

// sameKey is a client of this CA with c's account key, so it acts as c's
// account.
func (e *rlEnv) sameKey(t *testing.T, c *rlClient) *rlClient {
	t.Helper()
	n := e.client(t)
	n.Key, n.id = c.Key, c.id
	return n
}
