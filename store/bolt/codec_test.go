package bolt

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// TestCodecFields fails when a store type gains or loses a field: the codec
// writes fields one by one and would silently drop a new one.
func TestCodecFields(t *testing.T) {
	cases := map[string]struct {
		typ  reflect.Type
		want int
	}{
		"Account":       {reflect.TypeFor[store.Account](), 8},
		"Order":         {reflect.TypeFor[store.Order](), 14},
		"Authorization": {reflect.TypeFor[store.Authorization](), 9},
		"Challenge":     {reflect.TypeFor[store.Challenge](), 6},
		"Certificate":   {reflect.TypeFor[store.Certificate](), 14},
		"Problem":       {reflect.TypeFor[store.Problem](), 5},
		"Identifier":    {reflect.TypeFor[acme.Identifier](), 2},
	}
	for name, tc := range cases {
		if got := tc.typ.NumField(); got != tc.want {
			t.Errorf("store.%s has %d fields, the codec knows %d: update codec.go and this test", name, got, tc.want)
		}
	}
}

func sampleTime() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC) }

func sampleProblem() *store.Problem {
	id := acme.Identifier{Type: acme.TypeDNS, Value: "a.example"}
	return &store.Problem{Type: acme.Unauthorized, Detail: "no", Status: 403, Identifier: &id,
		Subproblems: []store.Problem{{Type: acme.DNS, Detail: "x", Status: 400}, {Subproblems: []store.Problem{}}}}
}

// sampleAuthz is an authorization as the CA keeps it after validation.
func sampleAuthz() store.Authorization {
	a := store.Authorization{ID: 7, AccountID: 3, Identifier: acme.Identifier{Type: acme.TypeDNS, Value: "host-0000001.example.com"},
		Profile: "classic", Status: acme.StatusValid, Created: sampleTime(), Expires: sampleTime().Add(time.Hour)}
	for _, typ := range []string{acme.ChallengeHTTP01, acme.ChallengeDNS01, acme.ChallengeTLSALPN01} {
		a.Challenges = append(a.Challenges, store.Challenge{Type: typ,
			Token: "00000000000000000000000000000000000000000001", Status: acme.StatusPending})
	}
	a.Challenges[0].Status, a.Challenges[0].Validated = acme.StatusValid, sampleTime()
	return a
}

func TestCodecRoundTrip(t *testing.T) {
	acct := store.Account{ID: 1, JWK: []byte{}, KeyID: "k", Status: acme.StatusValid, Contact: []string{},
		CreatedAt: sampleTime(), InitialIP: "::1", EABKeyID: "e"}
	order := store.Order{ID: 2, AccountID: -1, Identifiers: []acme.Identifier{}, AuthzIDs: []int64{1, -5},
		Profile: "p", Replaces: "r", Created: sampleTime(), Expires: time.Unix(-1e12, 1).UTC(),
		NotAfter: sampleTime(), BeganProcessing: true, Error: sampleProblem(), CertSerial: "s", CSR: []byte{0x30, 0}}
	authz := sampleAuthz()
	authz.Wildcard, authz.Challenges[1].Error = true, sampleProblem()
	authz.Challenges[0].AccountURI = "https://ca.example/acme/acct/3"
	cert := store.Certificate{Serial: "0a", AccountID: 1, OrderID: 2, DER: []byte{1, 2}, IssuerID: "E5",
		CRLShard: -3, Identifiers: []acme.Identifier{{}}, Issued: sampleTime(), Expires: sampleTime(),
		KeyHash: "h", Revoked: true, RevokedAt: sampleTime(), Reason: 4, ReplacementOrder: 9}
	cases := map[string]struct {
		in        any
		roundTrip func() (any, error)
	}{
		"account": {acct, func() (any, error) { return decodeAccount(acct.ID, encodeAccount(&acct)) }},
		"zero account": {store.Account{ID: 1}, func() (any, error) {
			return decodeAccount(1, encodeAccount(&store.Account{}))
		}},
		"order": {order, func() (any, error) { return decodeOrder(order.ID, encodeOrder(&order)) }},
		"zero order": {store.Order{ID: 1}, func() (any, error) {
			return decodeOrder(1, encodeOrder(&store.Order{}))
		}},
		"authz": {authz, func() (any, error) { return decodeAuthz(authz.ID, encodeAuthz(&authz)) }},
		"cert":  {cert, func() (any, error) { return decodeCert(cert.Serial, encodeCert(&cert)) }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.roundTrip()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.in) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.in)
			}
		})
	}
}

// Format 1 values, as the version 1 codec wrote them: an order that began
// processing and an authorization whose first challenge is processing.
const (
	v1Order = "01060203646e7309612e6578616d706c65020e0000cab0fa86dd03d804cab0fa86dd03d80400000000010000"
	v1Authz = "010603646e7318686f73742d303030303030312e6578616d706c652e636f6d0007636c61737369630770656e64696e67" +
		"cab0fa86dd03d804eae8fa86dd03d8040407687474702d30312c30303030303030303030303030303030303030303030" +
		"303030303030303030303030303030303030303030310a70726f63657373696e67cab0fa86dd03d8040006646e732d30" +
		"312c30303030303030303030303030303030303030303030303030303030303030303030303030303030303030310770" +
		"656e64696e670000000b746c732d616c706e2d30312c3030303030303030303030303030303030303030303030303030" +
		"3030303030303030303030303030303030310770656e64696e67000000"
)

// TestCodecReadsVersion1: format 1 values read back with the fields of
// format 2 empty, and are rewritten in format 2.
func TestCodecReadsVersion1(t *testing.T) {
	wantOrder := store.Order{ID: 1, AccountID: 3, Identifiers: []acme.Identifier{{Type: acme.TypeDNS, Value: "a.example"}},
		AuthzIDs: []int64{7}, Created: sampleTime(), Expires: sampleTime(), BeganProcessing: true}
	wantAuthz := sampleAuthz()
	wantAuthz.Status, wantAuthz.Challenges[0].Status = acme.StatusPending, acme.StatusProcessing
	o, err := decodeOrder(1, unhex(t, v1Order))
	if err != nil || !reflect.DeepEqual(o, wantOrder) {
		t.Errorf("version 1 order:\n got %+v, %v\nwant %+v", o, err, wantOrder)
	}
	a, err := decodeAuthz(wantAuthz.ID, unhex(t, v1Authz))
	if err != nil || !reflect.DeepEqual(a, wantAuthz) {
		t.Errorf("version 1 authz:\n got %+v, %v\nwant %+v", a, err, wantAuthz)
	}
	if v := encodeOrder(&o); v[0] != formatVersion {
		t.Errorf("re-encoded in version %d, want %d", v[0], formatVersion)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCodecCorrupt(t *testing.T) {
	a := sampleAuthz()
	good := encodeAuthz(&a)
	cases := map[string][]byte{
		"empty":          {},
		"newer version":  append([]byte{formatVersion + 1}, good[1:]...),
		"version 0":      append([]byte{0}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge count":     {formatVersion, 0, 2, 'd', 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeAuthz(1, b); !errors.Is(err, errCorrupt) {
				t.Errorf("decode: %v, want errCorrupt", err)
			}
		})
	}
}

// FuzzDecode checks that no input makes a decoder panic or allocate
// beyond its input, and that whatever decodes survives a round trip. (The
// bytes may differ: varints have more than one encoding.)
func FuzzDecode(f *testing.F) {
	a := sampleAuthz()
	o := store.Order{Identifiers: []acme.Identifier{{Type: acme.TypeDNS, Value: "x"}}, Error: sampleProblem()}
	f.Add(encodeAuthz(&a))
	f.Add(encodeOrder(&o))
	f.Add(encodeAccount(&store.Account{KeyID: "k"}))
	f.Add(encodeCert(&store.Certificate{DER: []byte{1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRoundTrip(t, "authz", b, decodeAuthz, encodeAuthz)
		fuzzRoundTrip(t, "order", b, decodeOrder, encodeOrder)
		fuzzRoundTrip(t, "account", b, decodeAccount, encodeAccount)
		fuzzRoundTrip(t, "certificate", b, func(_ int64, b []byte) (store.Certificate, error) {
			return decodeCert("s", b)
		}, encodeCert)
	})
}

func fuzzRoundTrip[T any](t *testing.T, kind string, b []byte, dec func(int64, []byte) (T, error), enc func(*T) []byte) {
	v, err := dec(1, b)
	if err != nil {
		return
	}
	again, err := dec(1, enc(&v))
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Errorf("%s does not survive a round trip: %v\n%+v\n%+v", kind, err, v, again)
	}
}

// BenchmarkCodec compares this package's format with encoding/json and gob
// on an authorization with three challenges, the object written most.
func BenchmarkCodec(b *testing.B) {
	a := sampleAuthz()
	codecs := map[string]struct {
		enc func() ([]byte, error)
		dec func([]byte) error
	}{
		"binary": {
			func() ([]byte, error) { return encodeAuthz(&a), nil },
			func(v []byte) error { _, err := decodeAuthz(1, v); return err },
		},
		"json": {
			func() ([]byte, error) { return json.Marshal(&a) },
			func(v []byte) error { var out store.Authorization; return json.Unmarshal(v, &out) },
		},
		"gob": { // one value per stream, as each bbolt value must stand alone
			func() ([]byte, error) {
				var buf bytes.Buffer
				err := gob.NewEncoder(&buf).Encode(&a)
				return buf.Bytes(), err
			},
			func(v []byte) error {
				var out store.Authorization
				return gob.NewDecoder(bytes.NewReader(v)).Decode(&out)
			},
		},
	}
	for name, c := range codecs {
		v, err := c.enc()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.enc()
			}
			b.ReportMetric(float64(len(v)), "bytes")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.dec(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
