package policy

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

// testKeys are generated once per test that needs them.
type testKeys struct {
	rsa2048, rsa1024              *rsa.PrivateKey
	p256, p384, p521, p224, p256b *ecdsa.PrivateKey
	ed                            ed25519.PrivateKey
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	var k testKeys
	var err error
	if k.rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&k.p256, elliptic.P256()}, {&k.p256b, elliptic.P256()}, {&k.p384, elliptic.P384()},
		{&k.p521, elliptic.P521()}, {&k.p224, elliptic.P224()}} {
		if *c.dst, err = ecdsa.GenerateKey(c.curve, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

// divisibleBy3 returns an odd 2048-bit modulus with the factor 3.
func divisibleBy3(n *big.Int) *big.Int {
	m := new(big.Int).Sub(n, new(big.Int).Mod(n, big.NewInt(3)))
	if m.Bit(0) == 0 {
		m.Sub(m, big.NewInt(3))
	}
	return m
}

// closePrimes returns primes p < q, adjacent, whose product has 2048 bits.
func closePrimes(t *testing.T) (p, q *big.Int) {
	t.Helper()
	for {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		q := new(big.Int).Add(p, big.NewInt(2))
		for !q.ProbablyPrime(20) {
			q.Add(q, big.NewInt(2))
		}
		if new(big.Int).Mul(p, q).BitLen() == 2048 {
			return p, q
		}
	}
}

func readPublicKeys(t *testing.T, path string) []*rsa.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []*rsa.PublicKey
	for {
		var block *pem.Block
		if block, data = pem.Decode(data); block == nil {
			return keys
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(*rsa.PublicKey))
	}
}

// TestKeyPolicy is the golden table of goodkey reasons, as seen through
// CheckAccountKey (badPublicKey, "invalid request signing key: <reason>").
func TestKeyPolicy(t *testing.T) {
	k := newTestKeys(t)
	p, q := closePrimes(t)
	good := &k.rsa2048.PublicKey
	odd := func(bits int) *big.Int { // an odd number of exactly bits bits
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return n.Add(n, big.NewInt(1))
	}
	//lint:ignore SA1019 an invalid point can only be built from raw coordinates
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "invalid request signing key: "
	tests := []struct {
		name   string
		key    crypto.PublicKey
		reason string // "" = accepted
	}{
		{"RSA 2048", good, ""},
		{"ECDSA P-256", &k.p256.PublicKey, ""},
		{"ECDSA P-384", &k.p384.PublicKey, ""},
		{"RSA 1024", &k.rsa1024.PublicKey, "key size not supported: 1024"},
		{"RSA 2047", &rsa.PublicKey{N: odd(2047), E: 65537}, "key size not supported: 2047"},
		{"RSA 2049", &rsa.PublicKey{N: odd(2049), E: 65537}, "key size not supported: 2049"},
		{"RSA 8192", &rsa.PublicKey{N: odd(8192), E: 65537}, "key size not supported: 8192"},
		{"RSA nil modulus", &rsa.PublicKey{E: 65537}, "key size not supported: 0"},
		{"RSA e=3", &rsa.PublicKey{N: good.N, E: 3}, "key exponent must be 65537"},
		{"RSA e=65539", &rsa.PublicKey{N: good.N, E: 65539}, "key exponent must be 65537"},
		{"modulus divisible by 3", &rsa.PublicKey{N: divisibleBy3(good.N), E: 65537}, "key divisible by small prime"},
		{"modulus divisible by 751", &rsa.PublicKey{N: new(big.Int).Mul(big.NewInt(751), odd(2039)), E: 65537}, "key divisible by small prime"},
		{"close factors", &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537},
			"key generated with factors too close together: public modulus n = pq factored into p: " + q.String() + "; q: " + p.String()},
		{"ECDSA P-521", &k.p521.PublicKey, "ECDSA curve P-521 not allowed"},
		{"ECDSA P-224", &k.p224.PublicKey, "ECDSA curve P-224 not allowed"},
		{"ECDSA nil curve", &ecdsa.PublicKey{}, "ECDSA curve <nil> not allowed"},
		{"ECDSA point off the curve", offCurve, "key point is not on the curve"},
		{"Ed25519", k.ed.Public(), "unsupported key type ed25519.PublicKey"},
		{"X25519", x25519.PublicKey(), "unsupported key type *ecdh.PublicKey"},
		{"RSA by value", *good, "unsupported key type rsa.PublicKey"},
		{"nil", nil, "unsupported key type <nil>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// AllowEd25519CSR never extends to account keys.
			pol := mustNew(t, Config{AllowEd25519CSR: true})
			err := pol.CheckAccountKey(tc.key)
			if tc.reason == "" {
				wantProblem(t, err, "", "")
				return
			}
			wantProblem(t, err, acme.BadPublicKey, prefix+tc.reason)
		})
	}
}

func TestROCA(t *testing.T) {
	weak := readPublicKeys(t, "testdata/roca_weak.pem")
	ok := readPublicKeys(t, "testdata/roca_ok.pem")
	if len(weak) != 3 || len(ok) != 3 {
		t.Fatalf("read %d weak and %d ok keys", len(weak), len(ok))
	}
	var p Policy
	for i, k := range weak {
		wantProblem(t, p.CheckAccountKey(k), acme.BadPublicKey,
			"invalid request signing key: key generated by vulnerable Infineon-based hardware")
		if !rocaFingerprint(k.N) {
			t.Errorf("weak key %d not fingerprinted", i)
		}
	}
	for i, k := range ok {
		if rocaFingerprint(k.N) {
			t.Errorf("good key %d fingerprinted", i)
		}
		wantProblem(t, p.CheckAccountKey(k), "", "")
	}
}

func TestFermatFactor(t *testing.T) {
	tests := []struct {
		name   string
		n      int64
		p, q   int64
		rounds int
		ok     bool
	}{
		{"adjacent primes", 101 * 103, 103, 101, 1, true},
		{"perfect square", 97 * 97, 97, 97, 1, true},
		{"found in a later round", 3 * 101, 101, 3, 40, true},
		{"too few rounds", 3 * 101, 0, 0, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, q, ok := fermatFactor(big.NewInt(tc.n), tc.rounds)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (p.Int64() != tc.p || q.Int64() != tc.q) {
				t.Fatalf("got %v × %v, want %d × %d", p, q, tc.p, tc.q)
			}
		})
	}
}

func TestBlockedAccountKey(t *testing.T) {
	k := newTestKeys(t)
	blockedHash, err := KeyHash(&k.p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	errLookup := errors.New("store down")
	blocked := func(h string) (bool, error) { return h == blockedHash, nil }
	failing := func(string) (bool, error) { return false, errLookup }
	var p Policy
	tests := []struct {
		name    string
		key     crypto.PublicKey
		blocked KeyBlockedFunc
		detail  string
		err     error
	}{
		{"blocked", &k.p256.PublicKey, blocked, "invalid request signing key: public key is forbidden", nil},
		{"not blocked", &k.p256b.PublicKey, blocked, "", nil},
		{"type checked before the list", &k.p521.PublicKey, blocked, "invalid request signing key: ECDSA curve P-521 not allowed", nil},
		{"lookup failure", &k.p256b.PublicKey, failing, "", errLookup},
		{"unencodable key skips the list", &rsa.PublicKey{E: 65537}, failing, "invalid request signing key: key size not supported: 0", nil},
		{"blocked small key reports the block", &k.rsa1024.PublicKey, func(string) (bool, error) { return true, nil },
			"invalid request signing key: public key is forbidden", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckAccountKeyBlocked(tc.key, tc.blocked)
			if tc.err != nil {
				if _, isProblem := acme.As(err); isProblem || !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want a plain error wrapping %v", err, tc.err)
				}
				return
			}
			if tc.detail == "" {
				wantProblem(t, err, "", "")
				return
			}
			wantProblem(t, err, acme.BadPublicKey, tc.detail)
		})
	}
}

func TestKeyHash(t *testing.T) {
	k := newTestKeys(t)
	der, err := x509.MarshalPKIXPublicKey(&k.p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	got, err := KeyHash(&k.p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); got != want || len(got) != 43 {
		t.Fatalf("KeyHash = %q, want %q", got, want)
	}
	if _, err := KeyHash(nil); err == nil {
		t.Fatal("KeyHash(nil) succeeded")
	}
}
