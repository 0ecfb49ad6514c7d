package ca

import (
	"context"
	"net/http"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/challengeval"
	"github.com/fakeca/fakeca/events"
)

// TestJournal: a user troubleshooting a name finds, in order, the order,
// the challenge attempts with the exact problem, the issuance and the
// revocation.
func TestJournal(t *testing.T) {
	t.Parallel()
	j, err := events.New(events.Config{}, events.Deps{Clock: clocktesting.NewFakePassiveClock(testStart)})
	if err != nil {
		t.Fatal(err)
	}
	fail := acme.New(acme.Unauthorized, "Incorrect TXT record \"x\" found at _acme-challenge.bad.journal.test")
	e := newEnv(t, envConfig{journal: j, validator: validatorFunc(func(_ context.Context, r challengeval.Request) error {
		if r.Identifier.Value == "bad.journal.test" {
			return fail
		}
		return nil
	})})
	acct := e.newAccount()
	got := acct.issue("good.journal.test")
	wantStatus(t, acct.revoke(got.der, 4), http.StatusOK)
	o, _ := acct.newOrder("bad.journal.test")
	acct.authorize(o)
	e.clk.Step(time.Minute)

	kinds := func(f events.Filter) []events.Kind {
		var out []events.Kind
		for _, ev := range j.Query(f) {
			out = append(out, ev.Kind)
		}
		return out
	}
	wantKinds := func(name string, got, want []events.Kind) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", name, got, want)
			}
		}
	}
	wantKinds("good name", kinds(events.Filter{Identifier: "good.journal.test"}), []events.Kind{
		events.OrderCreated, events.ChallengeStarted, events.ValidationSucceeded,
		events.CertificateIssued, events.CertificateRevoked})
	wantKinds("bad name", kinds(events.Filter{Identifier: "bad.journal.test"}), []events.Kind{
		events.OrderCreated, events.ChallengeStarted, events.ValidationFailed})
	failed := j.Query(events.Filter{Kinds: []events.Kind{events.ValidationFailed}})
	if len(failed) != 1 || failed[0].Problem == nil || failed[0].Problem.Detail != fail.Detail ||
		failed[0].Problem.Type != acme.Unauthorized.URN() {
		t.Errorf("validation failure journaled as %+v", failed)
	}
}
