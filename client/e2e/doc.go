// Package e2e runs fakeca's end-to-end check: one whole certificate life
// against an ACME server, as a user's client lives it — account, order
// (http-01 and a dns-01 wildcard), validation, finalize, chain to the
// root, ARI window, renewal with `replaces`, revocation, the CRL listing
// the serial and OCSP saying revoked — and reports a step table, JSON or
// JUnit.
//
// In DESIGN.md's graph e2e sits under cmd ({cmd, scenarios} → client/e2e
// → client). It talks to the server only over HTTP and DNS, so it runs
// the same against an in-process fakeca (which cmd/fakeca starts), a
// separately started `fakeca serve`, or another ACME server.
//
// # Using it
//
//	rep, err := e2e.Run(ctx, e2e.Config{DirectoryURL: dir, Roots: pool, MgmtURL: mgmt,
//		DNS: client.RFC2136Config{Server: "127.0.0.1:8053"}}, e2e.Deps{Clock: clock.RealClock{}})
//	_ = rep.WriteTable(os.Stdout) // or WriteJSON, WriteJUnit
//	if !rep.OK { … }
//
// Run is not safe to call twice with the same Deps.HTTP01Listener.
package e2e
