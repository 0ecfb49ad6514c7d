// Package client is fakeca's issuance client: it registers accounts, orders
// certificates, solves http-01, dns-01 and tls-alpn-01 challenges, renews
// with ARI (RFC 9773) and revokes, against any ACME server — fakeca,
// Pebble, Let's Encrypt staging. It also holds a renewal policy that
// decides when to renew exactly as cert-manager does (renewal.go).
//
// In DESIGN.md's graph client sits under cmd and scenarios
// ({cmd, scenarios} → client) and imports no other fakeca package: it
// talks ACME over HTTP like any other client and knows nothing of the
// server's internals.
//
// # Using it
//
//	key, _ := client.NewKey(client.KeyECDSAP256)
//	c, err := client.New(client.Config{DirectoryURL: dir, Roots: pool},
//		client.Deps{Clock: clock.RealClock{}, AccountKey: key, Progress: print})
//	acct, created, err := c.Register(ctx)
//	web := client.NewHTTP01(client.HTTP01Config{Listen: ":80"}, client.HTTP01Deps{})
//	err = web.Start(ctx)
//	defer web.Shutdown(ctx)
//	crt, err := c.Issue(ctx, client.Request{Names: []string{"a.test"},
//		Challenges: []string{client.ChallengeHTTP01}, Solvers: map[string]client.Solver{client.ChallengeHTTP01: web}})
//
// # Protocol engine and time
//
// The ACME protocol is spoken by cert-manager's fork of
// golang.org/x/crypto/acme (the library cert-manager itself uses, with ARI
// `replaces` and profiles), configured as cert-manager configures it: only
// badNonce is retried inside the library (1 s, 2 s, 3 s, 3 s, 3 s). Two calls
// are made with a small JWS poster of our own (jws.go): finalize, because the
// fork's CreateOrderCert polls a processing order with wall-clock timers, and
// fetching an order's JSON, because the fork drops its `replaces` and
// `profile` fields. Every wait — polling, nonce retries, new-order retries —
// runs on the injected clock (Deps.Clock), never on time.Sleep.
//
// A Client is not safe for concurrent use; solvers and responders are.
package client
