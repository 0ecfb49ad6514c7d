// Package events is fakeca's event journal: the record a user reads when
// asking "why did my renewal fail?". Every state change worth seeing while
// troubleshooting — an order created or reused, a challenge started and
// exactly why it failed, a rate limit hit, a fault fired, a certificate
// issued or revoked — is appended as a typed Event (a Kind plus account,
// order, authorization, serial, identifiers and the exact problem the
// client was sent) and can be queried by identifier, account or order.
//
// In DESIGN.md's graph it sits under ca (ca → events) and imports only
// acme. The journal decides nothing: producers append after they decide,
// and nothing reads the journal on the request path.
//
// # Using it
//
//	j, err := events.New(events.Config{Capacity: 10000}, events.Deps{Clock: clk, Sink: sink, Logger: log})
//	n, err := j.Restore(ctx) // with a Sink, before serving: reload the newest events
//	go j.Run(ctx)            // with a Sink: persist appended events until ctx ends
//	j.Append(events.Event{Kind: events.ValidationFailed, Account: a, Order: o, Authz: z,
//	    Identifiers: []acme.Identifier{authz.Identifier}, Challenge: "http-01",
//	    Problem: events.ProblemFrom(err)})
//	j.Query(events.Filter{Identifier: "example.com", Limit: 50})
//	mgmt.Handle("/events", j.Handler()) // GET /events?identifier=&account=&order=&kind=&since=&limit=
//
// # Delivery semantics
//
// Append is synchronous and in memory: once it returns, the event has its
// Seq and Time and every Query sees it. It takes the journal's one mutex
// for a few map operations only (no I/O, no callbacks), so producers call
// it on the request path, after the state change has been committed.
// Events are records, not hooks: none can be vetoed or aborted, and
// nothing is called back. Seq order is Append order, in memory and on
// disk.
//
// The journal keeps the newest Config.Capacity events (default 10000);
// each Append beyond that drops the oldest, so memory is proportional to
// the capacity. Queries use an index by identifier, account or order.
//
// Persistence (--data-dir) is asynchronous and best effort: Append hands
// each event to a bounded queue without blocking, and Run writes it to the
// Sink in batches. A full queue or a failing Sink loses persistence of
// those events (with a warning in the log), never the in-memory record and
// never the request. FileSink is the Sink for --data-dir: JSON lines under
// <data-dir>/events, fsynced per batch, tolerant of a line torn by a crash,
// compacted when it reaches four times the capacity.
//
// # Who appends what (ca wiring)
//
//	new-account (created)            AccountCreated
//	account update, deactivate       AccountDeactivated
//	key-change                       KeyChanged
//	new-order, new order stored      OrderCreated
//	new-order, existing order reused OrderReused
//	any ratelimit denial (429)       RateLimited (Limit, Problem)
//	challenge POST accepted          ChallengeStarted
//	validation done: valid           ValidationSucceeded
//	validation done: invalid         ValidationFailed (Problem = challenge error)
//	authz deactivated by client      AuthzDeactivated
//	finalize refused (4xx)           FinalizeRejected (Problem)
//	finalize CAA recheck refused     CAARecheckFailed (Problem)
//	finalize signing/storing failed  IssuanceFailed (Problem)
//	certificate stored               CertificateIssued (Serial)
//	revoke-cert succeeded            CertificateRevoked (Serial, Message = reason)
//	fault rule applied               FaultFired (Rule, Message, Problem)
package events
