package dnsserver

import (
	"crypto/hmac"
	"crypto/md5"  // #nosec G501 -- hmac-md5 is a TSIG algorithm cert-manager uses by default
	"crypto/sha1" // #nosec G505 -- hmac-sha1 is a TSIG algorithm (RFC 8945 §6)
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"

	"github.com/miekg/dns"
	"k8s.io/utils/clock"
)

// tsigFudge is the time fudge put in signed responses (RFC 8945 §10
// recommends 300 s, and cert-manager signs with 300 s).
const tsigFudge = 300

// keyring verifies and signs TSIG for the configured keys: hmac-md5 (which
// miekg/dns no longer implements), hmac-sha1, hmac-sha256 and hmac-sha512.
// It is immutable after newKeyring and so safe for concurrent use.
type keyring struct {
	keys  map[string]tsigSecret // by canonical key name
	clock clock.PassiveClock
}

// tsigSecret is one decoded key.
type tsigSecret struct {
	algorithm string // canonical wire name
	secret    []byte
}

var _ dns.TsigProvider = (*keyring)(nil)

// newKeyring decodes keys that Config.Validate accepted.
func newKeyring(keys []TSIGKey, clk clock.PassiveClock) (*keyring, error) {
	k := &keyring{keys: map[string]tsigSecret{}, clock: clk}
	for _, key := range keys {
		secret, err := base64.StdEncoding.DecodeString(key.Secret)
		if err != nil {
			return nil, errors.New("tsig secret is not standard base64")
		}
		k.keys[canonical(key.Name)] = tsigSecret{algorithm: canonicalAlgorithm(key.Algorithm), secret: secret}
	}
	return k, nil
}

// required reports whether updates must be signed (a key is configured).
func (k *keyring) required() bool { return len(k.keys) > 0 }

// Generate implements dns.TsigProvider: the MAC of msg (the TSIG-variables
// buffer miekg/dns built) with t's key. An unknown key name is
// dns.ErrSecret and a key used with another algorithm dns.ErrKeyAlg,
// which the handler answers with BADKEY.
func (k *keyring) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	key, ok := k.keys[canonical(t.Hdr.Name)]
	if !ok {
		return nil, dns.ErrSecret
	}
	alg := dns.CanonicalName(t.Algorithm)
	if alg != key.algorithm {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(hashFor(alg), key.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Verify implements dns.TsigProvider: it checks the MAC and then, with the
// injected clock, that TimeSigned is within the fudge (dns.ErrTime, which
// the handler answers with BADTIME). miekg/dns repeats the time check with
// the wall clock after Verify returns.
func (k *keyring) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	now := uint64(max(k.clock.Now().Unix(), 0))
	skew := max(now, t.TimeSigned) - min(now, t.TimeSigned)
	if skew > uint64(t.Fudge) {
		return dns.ErrTime
	}
	return nil
}

// hashFor returns the hash of a canonical algorithm name known to be
// supported.
func hashFor(alg string) func() hash.Hash {
	switch alg {
	case dns.HmacMD5:
		return md5.New
	case dns.HmacSHA1:
		return sha1.New
	case dns.HmacSHA256:
		return sha256.New
	default:
		return sha512.New
	}
}

// tsigError maps miekg/dns's verdict on a request's TSIG to the TSIG
// error code of the response (RFC 8945 §5.2).
func tsigError(status error) uint16 {
	switch {
	case errors.Is(status, dns.ErrSecret), errors.Is(status, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(status, dns.ErrTime):
		return dns.RcodeBadTime
	default:
		return dns.RcodeBadSig
	}
}

// signReply appends the TSIG RR that makes miekg/dns sign resp when it is
// written: with the request's key and algorithm, and for a failed request
// with the error code (BADKEY and BADSIG replies go out unsigned; BADTIME
// ones are signed, echo the request's time and carry the server's time in
// Other Data, RFC 8945 §5.2.3).
func signReply(resp *dns.Msg, req *dns.TSIG, code uint16, now int64) {
	t := &dns.TSIG{Hdr: dns.RR_Header{Name: req.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: req.Algorithm, Fudge: tsigFudge, TimeSigned: uint64(max(now, 0)), OrigId: resp.Id, Error: code}
	if code == dns.RcodeBadTime {
		var b [6]byte
		for i := range b {
			b[i] = byte(t.TimeSigned >> (8 * (5 - i)))
		}
		t.TimeSigned, t.Fudge = req.TimeSigned, req.Fudge
		t.OtherLen, t.OtherData = 6, hex.EncodeToString(b[:])
	}
	resp.Extra = append(resp.Extra, t)
}
