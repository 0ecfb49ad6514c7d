package events_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/events"
)

// Example shows a journal persisted under a data directory, as cmd/fakeca
// wires it for --data-dir, answering "why did my renewal fail?".
func Example() {
	dir, err := os.MkdirTemp("", "events-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	sink, err := events.NewFileSink(events.FileSinkConfig{Dir: dir}, events.FileSinkDeps{})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = sink.Close() }()
	clk := testclock.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	j, err := events.New(events.Config{}, events.Deps{Clock: clk, Sink: sink})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	if _, err := j.Restore(ctx); err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()

	// The CA appends as it goes.
	id := acme.Identifier{Type: acme.TypeDNS, Value: "example.com"}
	j.Append(events.Event{Kind: events.OrderCreated, Account: 1, Order: 7,
		Identifiers: []acme.Identifier{{Type: acme.TypeDNS, Value: "*.example.com"}}})
	j.Append(events.Event{Kind: events.ValidationFailed, Account: 1, Order: 7, Authz: 70,
		Identifiers: []acme.Identifier{id}, Challenge: acme.ChallengeDNS01,
		Problem: events.ProblemFrom(acme.New(acme.Unauthorized,
			"Incorrect TXT record \"abc\" found at _acme-challenge.example.com"))})

	// The user asks about the name they renew.
	for _, e := range j.Query(events.Filter{Identifier: "*.example.com"}) {
		fmt.Println(e.Seq, e.Kind, e.Identifiers[0].Value)
		if e.Problem != nil {
			fmt.Println("  ", e.Problem.Type, e.Problem.Detail)
		}
	}
	stop()
	<-done // flushes the events to dir/events.jsonl

	// Output:
	// 1 order-created *.example.com
	// 2 validation-failed example.com
	//    urn:ietf:params:acme:error:unauthorized Incorrect TXT record "abc" found at _acme-challenge.example.com
}
