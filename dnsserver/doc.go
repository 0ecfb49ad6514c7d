// Package dnsserver is fakeca's built-in authoritative DNS server (UDP,
// TCP and DNS over HTTPS), with the HTTP-01 (plain and HTTPS) and
// TLS-ALPN-01 responders and a management API compatible with
// pebble-challtestsrv, so that cert-manager (or any ACME client and test
// harness) can solve every challenge type against fakeca alone.
//
// In DESIGN.md's graph dnsserver is a leaf under cmd and scenarios
// ({cmd, scenarios} → dnsserver); it imports no other fakeca package.
// fakeca's validator (challengeval) reaches it like any resolver, over the
// network, by listing Server.Addr among its resolvers.
//
// # Using it
//
//	cfg := dnsserver.DefaultConfig()            // 127.0.0.1:8053, API on 127.0.0.1:8055
//	cfg.Zones = []string{"example.test"}        // "test." is always served
//	k, err := dnsserver.ParseTSIGFlag("cert-manager.:hmac-sha256:" + secret)
//	cfg.TSIG = append(cfg.TSIG, k)              // optional; then updates must be signed
//	srv, err := dnsserver.New(cfg, dnsserver.Deps{Clock: clock.RealClock{}, Logger: log})
//	err = srv.Start(ctx)                        // binds; returns when DNS answers
//	defer srv.Shutdown(ctx)
//	srv.Records().SetTXT("_acme-challenge.www.example.test", digest)
//
// YAML (key `dns`, decoded strictly over DefaultConfig) and flags:
//
//	dns:
//	  listen: 127.0.0.1:8053            # --dns-listen; every *Listen key takes comma-separated addresses
//	  zones: [example.test]             # --dns-zone NAME (repeatable)
//	  tsig:                             # --tsig NAME:ALGORITHM:BASE64SECRET (repeatable)
//	    - {name: cert-manager., algorithm: hmac-sha256, secret: BASE64}
//	  defaultIPv4: 127.0.0.1            # "" = no default A answer
//	  defaultIPv6: "::1"
//	  http01Listen: ""                  # off by default
//	  https01Listen: ""                 # HTTP-01 over HTTPS, self-signed certificate
//	  tlsalpn01Listen: ""
//	  dohListen: ""                     # DNS over HTTPS (RFC 8484, POST), needs:
//	  dohCert: ""                       #   PEM certificate chain file
//	  dohKey: ""                        #   PEM private key file
//	  challtestsrvListen: 127.0.0.1:8055 # --challtestsrv-listen
//
// # What it answers
//
// For names in a served zone (the longest matching zone wins) answers are
// authoritative (AA): the synthesized SOA (serial bumped on every change)
// and NS "ns1.<zone>" at the apex, and whatever records were added (A,
// AAAA, TXT, CNAME, CAA, or any other type), following CNAMEs. A name
// without A (AAAA) records gets the default address, like a wildcard; other
// types get NXDOMAIN for a name that does not exist and NODATA for one that
// does (including empty non-terminals), both with the SOA in Authority, so
// cert-manager's SOA walk finds the zone. Names outside every zone are
// answered as pebble-challtestsrv answers everything: records set through
// the API, the default addresses, otherwise an empty NOERROR with the SOA
// "challtestsrv.invalid." in Authority. SERVFAIL set for a host overrides
// everything. AXFR/IXFR and classes other than IN are REFUSED, other opcodes
// NOTIMP, malformed messages FORMERR (or no reply when even the header is
// broken). UDP replies are truncated (TC) to the client's EDNS(0) size.
//
// # RFC 2136 updates and TSIG
//
// An UPDATE must name a served zone exactly (else NOTAUTH). Prerequisites
// (all five kinds), adds (class IN), single-RR deletes (class NONE), RRset
// deletes (class ANY) and name deletes (ANY/ANY) are applied atomically:
// any failed check (FORMERR, NOTZONE, NXDOMAIN, YXDOMAIN, NXRRSET,
// YXRRSET) leaves the zone untouched. The synthesized apex SOA and NS
// cannot be changed; such changes are ignored. With no TSIG key configured
// unsigned updates are accepted; with keys, unsigned updates are REFUSED.
// A TSIG-signed message (query or update) is verified with hmac-md5,
// hmac-sha1, hmac-sha256 or hmac-sha512 and its reply signed with the same
// key. Failures answer NOTAUTH with TSIG error BADKEY (unknown key, or a
// key used with another algorithm) or BADSIG, both unsigned, or BADTIME
// (signed), as BIND does; miekg/dns clients such as cert-manager report
// any of them as "DNS update failed: dns: bad authentication". An UPDATE
// for a zone that is not served gets an unsigned NOTAUTH even when it was
// correctly signed, so cert-manager shows "DNS update failed. Server
// replied: NOTAUTH" instead of that generic text. The TSIG time window is
// checked with Deps.Clock and, inside miekg/dns, also with the wall clock.
//
// # Management API and responders
//
// ManagementHandler serves pebble-challtestsrv's paths and JSON bodies
// (/set-default-ipv4, /add-a, /set-txt, /add-http01, /add-tlsalpn01,
// /dns-request-history, …) with its status codes, error texts and history
// JSON. Records written there and by UPDATE are the same data. The
// HTTP-01 and TLS-ALPN-01 responders serve what the API provisions and
// record each request in the History; the HTTPS-01 listener serves the
// same responses (but no redirects) over TLS. The DNS-over-HTTPS listener
// gives the UDP/TCP answers to RFC 8484 POSTs.
//
// # Lifecycle and concurrency
//
// New validates the Config (the DoH key pair comes loaded in it) and builds
// everything without binding or starting goroutines; Start binds every
// address of every listener (port 0 allowed; ListenerAddrs reports the
// result) and owns the serving goroutines; Shutdown stops them and
// waits. Records, History and the responders are safe for concurrent use:
// DNS data has one RWMutex per served zone plus one for names outside the
// zones, no code holds two of them, and an UPDATE runs under its zone's
// lock. The History is sharded by host.
package dnsserver
