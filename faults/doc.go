// Package faults injects the failures that break certificate renewals in
// production: rules of the form match → action, loaded from the
// configuration file (Config, under the "faults" key), changed at run time
// through the management API (Engine.Handler at /faults), or translated
// from Pebble's environment variables (FromPebbleEnv).
//
// In DESIGN.md's graph it sits under ca (ca → faults) and imports only
// acme. It renders no problem documents: a problem action becomes an
// *acme.Error that ca's one renderer writes. Only cmd reads the
// environment and files; time comes from the injected clock.
//
// # Rules
//
//	faults:
//	  rules:
//	    - name: flaky-new-order
//	      match: {operation: new-order, identifier: "*.flaky.test", probability: 0.3, seed: 42, max: 10}
//	      action: {problem: {type: serverInternal, detail: "The service is down for maintenance", status: 503}, retryAfter: 30s}
//	    - name: slow-validation
//	      match: {operation: validation, identifier: "*.slow.test"}
//	      action: {validationDelay: 20s}
//
// Operations are directory, new-nonce, new-account, account, new-order,
// order, authz, challenge, finalize, certificate, revoke, key-change,
// renewal-info, list-orders (the HTTP endpoints; list-orders is the
// optional orders list), validation and issuance (the asynchronous steps). A rule without an operation applies to every HTTP
// request, never to validation or issuance. Match also filters on method,
// identifier glob, account, profile and a time window; then counts (nth,
// every), draws (probability with a seed: deterministic) and stops after
// max firings. Rules are tried in order and the first that fires wins;
// the others' counters do not move for that request. Every firing is
// logged ("fault fired") and counted (hits, shown by GET /faults), and
// reported to Deps.OnFire for the event journal and metrics.
//
// Actions: an ACME problem (type, detail, status) with Retry-After; a raw
// HTTP response; a delay (+ jitter); a dropped connection (EOF); a TCP
// reset; badNonce; the real response cut in half (malformed JSON) or with
// another Content-Type; an order stuck in pending, ready or processing; a
// validation forced valid or invalid (with a problem), or delayed. Validate
// rejects combinations that mean nothing, e.g. drop at validation or
// stuck: ready at order.
//
// # Wiring into ca
//
//	engine, err := faults.New(cfg.Faults, faults.Deps{Clock: clk, Logger: log, OnFire: journal})
//
// Requests — mount Middleware inside the route wrapper, after Replay-Nonce
// and Link are set (ca/routes.go endpoint), with ca's own renderer:
//
//	mw := engine.Middleware(opOf, s.writeError) // opOf: route → Operation, "" for 404/405
//	h := mw(http.HandlerFunc(func(w, r) { if err := fn(w, r); err != nil { s.writeError(w, r, err) } }))
//
// It applies delay, http, drop, reset, problem, badNonce (POST),
// malformedJSON and contentType for rules that filter on nothing a handler
// must find out. Every ResponseWriter wrapper between net/http and it must
// have Unwrap (ca's statusRecorder needs one) so drop/reset can hijack,
// and ca's recover middleware must re-panic http.ErrAbortHandler (used for
// drop/reset on HTTP/2).
//
// In each handler, once the account is authenticated and the order or
// authorization loaded (after verifyPOST and the look-up), call Check with
// what is known (new-account and directory-like handlers with what they
// have); return its error as any other (ErrHandled: write nothing), then
// honour Stuck. Rules that filter on identifier, account or profile fire
// only here:
//
//	a, err := s.faults.Check(w, r, faults.Request{Operation: faults.OpFinalize,
//	    Identifiers: o.Identifiers, AccountID: acct.ID, Profile: s.profileName(o.Profile)})
//	if errors.Is(err, faults.ErrHandled) { return nil /* and skip writing */ }
//	if err != nil { return err }
//	order, finalize: a.Stuck == acme.StatusPending → treat an order that is
//	           ready as pending (finalize answers orderNotReady).
//	finalize:  a.Stuck == acme.StatusReady → answer with the order as it is,
//	           without setting BeganProcessing or queueing issuance;
//	           a.Stuck == acme.StatusProcessing → set BeganProcessing but
//	           queue no issuance.
//
// Asynchronous steps — call Match directly (no request at hand):
//
//	validation (top of ca.validate, before the validator):
//	  a, ok := engine.Match(faults.Request{Operation: faults.OpValidation, Identifiers: []acme.Identifier{vr.Identifier},
//	      AccountID: acct, Profile: profile})
//	  engine.Wait(ctx, a.ValidationDelay)
//	  if forced, verr := a.ValidationResult(); forced { use verr (nil = valid) instead of validating }
//	issuance (top of ca.issueOrder):
//	  a, ok := engine.Match(faults.Request{Operation: faults.OpIssuance, Identifiers: o.Identifiers, AccountID: o.AccountID, Profile: p})
//	  engine.Wait(ctx, a.Delay)
//	  a.Stuck == acme.StatusProcessing → return without issuing or failing: the order stays processing
//	  a.Error() != nil → fail the order with it (store it as the order's error)
//
// Management listener: mount engine.Handler() at /faults and /faults/.
//
// Pebble compatibility (cmd): s, err := faults.FromPebbleEnv(os.Getenv);
// append s.Rules() to cfg.Faults.Rules (badNonce on JWS POSTs with the
// percentage; validation jitter and forced success); map
// s.AuthzReusePercent to ca's authorization-reuse setting.
package faults
