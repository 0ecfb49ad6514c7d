// Package ratelimit reproduces Let's Encrypt's rate limits: Boulder's
// GCRA buckets with its keys, numbers, check/spend/refund semantics and 429
// texts, the paused-identifier flow with its unpause pages, and the
// per-endpoint request limits of Let's Encrypt's load balancer.
//
// In DESIGN.md's graph it sits under ca (ca → ratelimit) and imports only
// acme. It renders no ACME problem documents: denials are *acme.Error
// values (type rateLimited, Boulder's detail, RetryAfter including the
// 0–3 % jitter) that ca/problem.go turns into a 429 with Retry-After and
// Link rel="help". Facts come from shared/reference/letsencrypt.md §1–3, §6.
//
// # Limits and keys
//
//	Name (enum)                                         key                        spent at
//	NewRegistrationsPerIPAddress (1)                    1:<ip>                     NewAccount
//	NewRegistrationsPerIPv6Range (2)                    2:<ipv6 /48>               NewAccount (IPv6 only)
//	NewOrdersPerAccount (3)                             3:<account>                NewOrder (not for renewals)
//	FailedAuthorizationsPerDomainPerAccount (4)         4:<account>:<identifier>   checked in NewOrder, spent in AuthzFailed
//	CertificatesPerDomain (5)                           5:<eTLD+1 | ip/32 | /64>   checked in NewOrder, spent in Issued (not for renewals)
//	CertificatesPerDomainPerAccount (6, override only)  6:<account>:<domain>       instead of 5 in NewOrder, as well as 5 in Issued
//	CertificatesPerFQDNSet (7)                          7:<hex sha256 of the set>  checked in NewOrder, spent in Issued (always)
//	FailedAuthorizationsForPausingPerDomainPerAccount (8) 8:<account>:<identifier> AuthzFailed (pauses when empty); reset by AuthzValid
//
// Presets (Config.Preset): letsencrypt-staging (default),
// letsencrypt-production, off. Config.Limits replaces a default;
// Config.Overrides take Boulder's overrides YAML (burst/count/period/ids)
// keyed by account, IP, IPv6 /48, registered domain or IP range, or
// identifier set. A bucket's limit is its override if any, else the
// default; no default and no override means the limit is off.
//
// # Calling it from the ACME server (Boulder's order)
//
//	new-account  existing key → 200 without touching limits; ToS and
//	             contacts checked; then
//	             refund, err := lim.NewAccount(ctx, clientIP)
//	             if err != nil { writeError(err) }   // *acme.Error 429
//	             create the account; on failure refund().
//	new-order    identifiers normalized and policy-checked; then
//	             refund, err := lim.NewOrder(ctx, ratelimit.NewOrderRequest{
//	                 AccountID: acct.ID, Identifiers: idents,
//	                 Replaces: func(ctx) (bool, error) { … validate `replaces`;
//	                     return now ∈ replaced cert's ARI suggestedWindow, err }})
//	             (paused check → Replaces → renewal lookup → limits); create
//	             or reuse the order; if that fails, refund().
//	validation   failed DCV/CAA, or deactivating a pending authz:
//	             lim.AuthzFailed(ctx, acct.ID, authz.Identifier)  // no "*."
//	             success: lim.AuthzValid(ctx, acct.ID, authz.Identifier)
//	finalize     after the certificate is stored:
//	             lim.Issued(ctx, acct.ID, certIdentifiers)
//	every request, before routing (optional): wrap the ACME handler with
//	             lim.LoadBalancer(h), or call lim.RequestAllowed(path, ip).
//	mounting     lim.UnpauseHandler() on the ACME listener at /sfe/v1/;
//	             lim.Handler() on the management listener at /rate-limits.
//
// AuthzFailed, AuthzValid and Issued are best effort: log their error,
// never show it to a client. If the Source fails during NewAccount or
// NewOrder the request goes through and a warning is logged, as Boulder
// does.
//
// # Renewals
//
// The Limiter keeps its own record of issued identifier sets (History, fed
// by Issued; in memory unless Deps.History is set), so NewOrder decides the
// non-ARI renewal exemption itself: an order whose exact identifier set
// (lowercased, deduplicated, any order, any account) was issued less than
// 120 days ago skips NewOrdersPerAccount and CertificatesPerDomain, and
// Issued then skips spending CertificatesPerDomain. The ARI exemption
// (Replaces or ARIExempt) skips every limit of the order, but Issued still
// spends CertificatesPerFQDNSet.
//
// # Faithful quirks
//
// As in Boulder: the quoted value in the failed-authorization and
// certificates-per-domain texts is whatever follows the last ':' of the
// bucket key, so IPv6 shows only its last group (a /64 shows "/64");
// new-order checks failed authorizations and pauses with the order's
// identifiers ("*.example.com") while validation spends and pauses the
// authorization's ("example.com"); unpausing does not reset the
// consecutive-failures bucket, so the 14-day grace is what keeps an
// unpaused identifier from being paused again at once.
//
// # Paused identifiers
//
// NewOrder answers a paused identifier with 429 rateLimited, no
// Retry-After, and "Your account is temporarily prevented from requesting
// certificates for <up to 15 values> and possibly others. Please visit:
// <UnpauseBaseURL>/sfe/v1/unpause?jwt=<JWT>". The JWT is HS256 with
// iss "WFE", aud "SFE Unpause", sub the account ID, version "v1" and
// identifiers "a,b"; UnpauseHandler serves the form, the POST that
// unpauses every identifier of the account (up to 50,000) and the status
// page.
//
// # Storage
//
// Source (bucket TATs), History (issued sets) and Pauses (paused
// identifiers) are small interfaces defined here, each with a sharded
// in-memory implementation used when Deps leaves them nil. store/bolt
// implements all three in fakeca's database, and ca/instance plugs those
// in (with a kept Deps.UnpauseKey) when it has a data directory, so limits,
// pauses and unpause links survive a restart as they do at Let's Encrypt.
// Package ratelimittest is the conformance suite every implementation
// passes. Every spend is a read followed by a compare-and-swap over the
// batch's keys, retried on conflict, so concurrent requests never lose a
// spend.
package ratelimit
