package dnsserver

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/miekg/dns"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestKeyring(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clk := clocktesting.NewFakePassiveClock(now)
	// Test case 1 of RFC 2202 (MD5, SHA-1) and RFC 4231 (SHA-256, SHA-512):
	// key 0x0b repeated, data "Hi There".
	k, err := newKeyring([]TSIGKey{
		{Name: "md5.", Algorithm: "hmac-md5", Secret: "CwsLCwsLCwsLCwsLCwsLCw=="},
		{Name: "sha1.", Algorithm: "hmac-sha1", Secret: "CwsLCwsLCwsLCwsLCwsLCwsLCws="},
		{Name: "sha256.", Algorithm: "hmac-sha256", Secret: "CwsLCwsLCwsLCwsLCwsLCwsLCws="},
		{Name: "Sha512", Algorithm: "HMACSHA512", Secret: "CwsLCwsLCwsLCwsLCwsLCwsLCws="},
	}, clk)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("Hi There")
	tsig := func(name, alg, mac string, signed time.Time) *dns.TSIG {
		return &dns.TSIG{Hdr: dns.RR_Header{Name: name}, Algorithm: alg, MAC: mac, Fudge: 300, TimeSigned: uint64(signed.Unix())}
	}
	tests := map[string]struct {
		tsig *dns.TSIG
		want error
	}{
		"hmac-md5 verifies (miekg/dns dropped it)": {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c13f48ef8158bfc9d", now)},
		"hmac-sha1 verifies":                       {tsig: tsig("sha1.", dns.HmacSHA1, "b617318655057264e28bc0b6fb378c8ef146be00", now)},
		"hmac-sha256 verifies": {tsig: tsig("sha256.", dns.HmacSHA256,
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", now)},
		"hmac-sha512 verifies, key names ignore case": {tsig: tsig("SHA512.", "HMAC-SHA512.",
			"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854", now)},
		"a wrong MAC is ErrSig":             {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c13f48ef8158bfc9e", now), want: dns.ErrSig},
		"a truncated MAC is ErrSig":         {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c", now), want: dns.ErrSig},
		"a MAC that is not hex is ErrSig":   {tsig: tsig("md5.", dns.HmacMD5, "zz", now), want: dns.ErrSig},
		"an unknown key is ErrSecret":       {tsig: tsig("other.", dns.HmacMD5, "", now), want: dns.ErrSecret},
		"another algorithm is ErrKeyAlg":    {tsig: tsig("md5.", dns.HmacSHA256, "", now), want: dns.ErrKeyAlg},
		"signed 301 s ago is ErrTime":       {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c13f48ef8158bfc9d", now.Add(-301*time.Second)), want: dns.ErrTime},
		"signed 301 s ahead is ErrTime":     {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c13f48ef8158bfc9d", now.Add(301*time.Second)), want: dns.ErrTime},
		"signed 300 s ago is still in time": {tsig: tsig("md5.", dns.HmacMD5, "9294727a3638bb1c13f48ef8158bfc9d", now.Add(-300*time.Second))},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := k.Verify(msg, tt.tsig); err != tt.want {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			mac, err := k.Generate(msg, tt.tsig)
			if err != nil || hex.EncodeToString(mac) != tt.tsig.MAC {
				t.Errorf("Generate = %x, %v; want %s", mac, err, tt.tsig.MAC)
			}
		})
	}
}

func TestTSIGError(t *testing.T) {
	tests := map[string]struct {
		status error
		want   uint16
	}{
		"unknown key":       {dns.ErrSecret, dns.RcodeBadKey},
		"unknown algorithm": {dns.ErrKeyAlg, dns.RcodeBadKey},
		"clock skew":        {dns.ErrTime, dns.RcodeBadTime},
		"bad MAC":           {dns.ErrSig, dns.RcodeBadSig},
		"malformed TSIG":    {dns.ErrNoSig, dns.RcodeBadSig},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tsigError(tt.status); got != tt.want {
				t.Errorf("tsigError(%v) = %d, want %d", tt.status, got, tt.want)
			}
		})
	}
}
