package client

import (
	"context"
	"crypto/hmac"
	"crypto/md5"  // #nosec G501 -- hmac-md5 is a TSIG algorithm (cert-manager's default)
	"crypto/sha1" // #nosec G505 -- hmac-sha1 is a TSIG algorithm (RFC 8945 §6)
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// rfc2136Fudge is the TSIG time fudge, as cert-manager signs (300 s).
const rfc2136Fudge = 300

// RFC2136Config configures the dns-01 solver that adds and removes TXT
// records with RFC 2136 dynamic updates, optionally TSIG-signed.
type RFC2136Config struct {
	// Server is the authoritative server's host:port. Default
	// 127.0.0.1:8053, fakeca's built-in DNS server.
	Server string
	// Zone is the zone to update; "" asks Server for the SOA of each
	// record name and updates the zone it names.
	Zone string
	// TSIGKeyName, TSIGAlgorithm and TSIGSecret (standard base64) sign
	// updates; an empty key name sends them unsigned. The algorithm is
	// hmac-md5, hmac-sha1, hmac-sha256 (the default) or hmac-sha512;
	// cert-manager's default is hmac-md5.
	TSIGKeyName, TSIGAlgorithm, TSIGSecret string
	// TTL of the TXT records. Default 60 s, cert-manager's.
	TTL uint32
	// Timeout bounds one DNS exchange. Default 10 s.
	Timeout time.Duration
}

// RFC2136Deps are the solver's collaborators; Clock (for TSIG's time
// signed) is required.
type RFC2136Deps struct {
	Clock  clock.PassiveClock
	Logger *slog.Logger
}

// RFC2136 is a dns-01 Solver speaking RFC 2136 to one server. Safe for
// concurrent use; it keeps no state between calls.
type RFC2136 struct {
	cfg   RFC2136Config
	clock clock.PassiveClock
	log   *slog.Logger
	tsig  *tsigHMAC // nil: unsigned
}

var _ Solver = (*RFC2136)(nil)

// NewRFC2136 checks cfg and builds the solver.
func NewRFC2136(cfg RFC2136Config, deps RFC2136Deps) (*RFC2136, error) {
	if deps.Clock == nil {
		return nil, errors.New("rfc2136: Deps.Clock is required")
	}
	if cfg.Server == "" {
		cfg.Server = "127.0.0.1:8053"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 60
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &RFC2136{cfg: cfg, clock: deps.Clock, log: deps.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.TSIGKeyName != "" {
		alg := tsigAlgorithm(cfg.TSIGAlgorithm)
		if alg == "" {
			return nil, fmt.Errorf("rfc2136: TSIG algorithm %q is not hmac-md5, hmac-sha1, hmac-sha256 or hmac-sha512", cfg.TSIGAlgorithm)
		}
		secret, err := base64.StdEncoding.DecodeString(cfg.TSIGSecret)
		if err != nil || len(secret) == 0 {
			return nil, errors.New("rfc2136: TSIG secret is not standard base64")
		}
		s.tsig = &tsigHMAC{name: dns.CanonicalName(cfg.TSIGKeyName), alg: alg, secret: secret}
	}
	return s, nil
}

// Present adds the TXT record _acme-challenge.<name> = ch.DNSValue.
func (s *RFC2136) Present(ctx context.Context, ch Challenge) error {
	return s.update(ctx, ch, true)
}

// CleanUp deletes exactly that record (other values stay).
func (s *RFC2136) CleanUp(ctx context.Context, ch Challenge) error {
	return s.update(ctx, ch, false)
}

func (s *RFC2136) update(ctx context.Context, ch Challenge, add bool) error {
	fqdn := dns.CanonicalName(ch.DNSName)
	zone := dns.CanonicalName(s.cfg.Zone)
	if s.cfg.Zone == "" {
		var err error
		if zone, err = s.findZone(ctx, fqdn); err != nil {
			return err
		}
	}
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: fqdn, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: s.cfg.TTL},
		Txt: []string{ch.DNSValue}}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	if add {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	r, err := s.exchange(ctx, m)
	if err != nil {
		return fmt.Errorf("DNS update of %s in zone %s at %s: %w", fqdn, zone, s.cfg.Server, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		// cert-manager's wording, which users search for.
		return fmt.Errorf("DNS update failed. Server replied: %s", dns.RcodeToString[r.Rcode])
	}
	s.log.Debug("rfc2136 update", "identifier", ch.Identifier, "name", fqdn, "zone", zone, "add", add)
	return nil
}

// exchange sends m over UDP (TCP when truncated), TSIG-signed if set up.
func (s *RFC2136) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: s.cfg.Timeout}
	if s.tsig != nil {
		c.TsigProvider = s.tsig
		m.SetTsig(s.tsig.name, s.tsig.alg, rfc2136Fudge, s.clock.Now().Unix())
	}
	r, _, err := c.ExchangeContext(ctx, m, s.cfg.Server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, s.cfg.Server)
	}
	return r, err
}

// findZone asks the server for the SOA of fqdn and returns the owner of
// the SOA it answers with (in Answer, or in Authority for NODATA and
// NXDOMAIN).
func (s *RFC2136) findZone(ctx context.Context, fqdn string) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, dns.TypeSOA)
	m.RecursionDesired = false
	c := &dns.Client{Net: "udp", Timeout: s.cfg.Timeout}
	r, _, err := c.ExchangeContext(ctx, m, s.cfg.Server)
	if err != nil {
		return "", fmt.Errorf("finding the zone of %s at %s: %w", fqdn, s.cfg.Server, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		//lint:ignore ST1005 cert-manager's wording (reference/cert-manager.md §5 #10)
		return "", fmt.Errorf("When querying the SOA record for %s at %s got '%s'", fqdn, s.cfg.Server, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range append(r.Answer, r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok {
			return dns.CanonicalName(soa.Hdr.Name), nil
		}
	}
	//lint:ignore ST1005 cert-manager's wording (reference/cert-manager.md §5 #10)
	return "", fmt.Errorf("Could not find the SOA record in the DNS tree for the domain '%s' using nameserver %s", fqdn, s.cfg.Server)
}

// tsigAlgorithm returns the wire name of a TSIG algorithm spelling, ""
// if unknown; "" defaults to hmac-sha256.
func tsigAlgorithm(s string) string {
	switch strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") {
	case "hmac-md5", "hmac-md5.sig-alg.reg.int", "hmacmd5":
		return dns.HmacMD5
	case "hmac-sha1", "hmacsha1":
		return dns.HmacSHA1
	case "", "hmac-sha256", "hmacsha256":
		return dns.HmacSHA256
	case "hmac-sha512", "hmacsha512":
		return dns.HmacSHA512
	}
	return ""
}

// tsigHMAC signs and verifies TSIG with one key, hmac-md5 included (which
// miekg/dns dropped).
type tsigHMAC struct {
	name, alg string
	secret    []byte
}

var _ dns.TsigProvider = (*tsigHMAC)(nil)

// Generate implements dns.TsigProvider.
func (k *tsigHMAC) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if !strings.EqualFold(dns.CanonicalName(t.Hdr.Name), k.name) {
		return nil, dns.ErrSecret
	}
	var h func() hash.Hash
	switch dns.CanonicalName(t.Algorithm) {
	case dns.HmacMD5:
		h = md5.New
	case dns.HmacSHA1:
		h = sha1.New
	case dns.HmacSHA256:
		h = sha256.New
	case dns.HmacSHA512:
		h = sha512.New
	default:
		return nil, dns.ErrKeyAlg
	}
	m := hmac.New(h, k.secret)
	m.Write(msg)
	return m.Sum(nil), nil
}

// Verify implements dns.TsigProvider.
func (k *tsigHMAC) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}
