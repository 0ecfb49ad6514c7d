// Package scenarios reproduces real cert-manager × Let's Encrypt failures
// on a simulated timeline.
//
// A scenario is a YAML file (see Parse): the CA's setup (profiles, rate
// limits, fault rules), the certificates under management (names,
// challenge type, renewal policy), a timeline and expectations:
//
//	name: http01-404
//	description: >
//	  Cause: … Symptom: … Fix: …
//	server:
//	  rateLimits: {limits: [{CertificatesPerFQDNSet: {burst: 5, count: 5, period: 168h}}]}
//	  faults: [{name: slow, match: {operation: finalize}, action: {delay: 5s}}]
//	certificates:
//	  - {name: web, dnsNames: [www.example.com], challenge: http-01, renewBefore: 720h, useARI: false}
//	timeline:
//	  - advance: 59d                        # let the manager act for 59 days
//	  - break: web                          # the challenge responder fails …
//	    failure: http-404                   # … as failureNames lists
//	  - fix: web
//	  - inject: {name: down, action: {http: {status: 503}}}   # a faults.Rule
//	  - clear: down
//	  - restart: {}                         # a fresh CA without persistence
//	  - revoke: web
//	  - incident: web                       # ARI asks for early renewal
//	  - deleteSecret: web
//	expect:
//	  accounts: 1
//	  certificates:
//	    web: {issuances: 2, attempts: 7, minAttempts: 3, failedAttempts: 0, ready: true,
//	          lastError: "…: 404", backoff: 2h, expiry: 2159h, profile: classic}
//
// Durations are Go durations or whole days ("7d"). Parse errors name the
// file, line and field: `bad.yaml:12: timeline[3].advance: "2x" is not a
// duration`.
//
// Run starts an in-process CA (ca/instance) on a fake clock and plays a
// cert-manager-like manager per certificate: client.Decide says whether
// to issue, RenewalTime and IssuanceBackoff when to look again, and the
// clock jumps from one due time to the next instead of ticking. The
// client's own waits (polling, badNonce and 5xx retries) jump the clock
// too, so a scenario covering months runs in a fraction of a second.
// Challenges are answered by the CA's AlwaysValid validation; a broken
// responder is a fault rule that fails validation with Boulder's problem
// text.
//
// Simulate (`fakeca simulate`) plays a fleet instead of a scenario: N
// Certificates behind one account, each on its own registered domain,
// for D days, with a min-heap of due times ordered by (time, certificate
// index) choosing the next manager to act. Its Report counts issuances,
// renewals, failures by problem type, rate-limit denials and expiries,
// per day too, and renders as text (WriteText) or an SVG chart
// (WriteSVG). A fixed Seed gives the same Report.
//
// The built-in library (Library, Lookup, Source) embeds library/*.yaml,
// each with a paragraph of cause, symptom and fix; every one runs as a
// test.
//
// In DESIGN.md's graph: cmd → scenarios → {ca (through ca/instance),
// client}. Nothing here reads files or calls time.Now; cmd/fakeca's
// `scenario` command does both.
package scenarios
