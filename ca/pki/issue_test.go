package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIssueLeafShape(t *testing.T) {
	h, clk := newHierarchy(t, Config{})
	clk.Step(37 * time.Minute) // leaves must follow the clock, not New's time
	now := clk.Now()
	profs := DefaultProfiles()
	rsaKey, ecKey := newTestKey(t, "rsa"), newTestKey(t, "p256")
	tests := []struct {
		name     string
		key      crypto.Signer
		profile  string
		dns      []string
		ips      []string
		wantKE   bool
		wantCN   string
		wantSKID bool
		validity time.Duration
	}{
		{name: "classic RSA", key: rsaKey, profile: "classic", dns: []string{"a.example", "b.example"},
			wantKE: true, wantCN: "a.example", wantSKID: true, validity: 90 * 24 * time.Hour},
		{name: "classic ECDSA", key: ecKey, profile: "classic", dns: []string{"a.example"},
			wantCN: "a.example", wantSKID: true, validity: 90 * 24 * time.Hour},
		{name: "classic IP only has no CN", key: ecKey, profile: "classic", ips: []string{"192.0.2.7"},
			wantSKID: true, validity: 90 * 24 * time.Hour},
		{name: "tlsserver RSA", key: rsaKey, profile: "tlsserver", dns: []string{"a.example"},
			validity: 45 * 24 * time.Hour},
		{name: "tlsserver ECDSA", key: ecKey, profile: "tlsserver", dns: []string{"a.example"},
			validity: 45 * 24 * time.Hour},
		{name: "shortlived RSA with IPs", key: rsaKey, profile: "shortlived", dns: []string{"a.example"},
			ips: []string{"192.0.2.1", "2001:db8::1"}, validity: 160 * time.Hour},
		{name: "shortlived ECDSA", key: ecKey, profile: "shortlived", ips: []string{"2001:db8::2"},
			validity: 160 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ips []net.IP
			for _, s := range tt.ips {
				ips = append(ips, net.ParseIP(s))
			}
			leaf, err := h.Issue(LeafRequest{PublicKey: tt.key.Public(), DNSNames: tt.dns, IPs: ips,
				Profile: profs[tt.profile]})
			if err != nil {
				t.Fatal(err)
			}
			c := leaf.Cert
			checkCommonLeaf(t, h, leaf)
			if want := now.Add(-time.Hour); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %s, want %s", c.NotBefore, want)
			}
			if got := c.NotAfter.Sub(c.NotBefore) + time.Second; got != tt.validity {
				t.Errorf("validity = %s, want %s", got, tt.validity)
			}
			wantKU := x509.KeyUsageDigitalSignature
			if tt.wantKE {
				wantKU |= x509.KeyUsageKeyEncipherment
			}
			if c.KeyUsage != wantKU {
				t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, wantKU)
			}
			if c.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", c.Subject.CommonName, tt.wantCN)
			}
			if _, critical := ext(c, oidSAN); critical != (tt.wantCN == "") {
				t.Errorf("SAN critical = %v, want %v", critical, tt.wantCN == "")
			}
			if present, _ := ext(c, oidSKID); present != tt.wantSKID {
				t.Errorf("SKID present = %v, want %v", present, tt.wantSKID)
			}
			if !slices.Equal(c.DNSNames, tt.dns) || len(c.IPAddresses) != len(tt.ips) {
				t.Errorf("SANs = %v %v, want %v %v", c.DNSNames, c.IPAddresses, tt.dns, tt.ips)
			}
			verify(t, h, c, h.Chains(leaf.Issuer.ID)[0], now)
		})
	}
}

// checkCommonLeaf asserts what every leaf shares, whatever the profile.
func checkCommonLeaf(t *testing.T, h *Hierarchy, leaf Leaf) {
	t.Helper()
	c := leaf.Cert
	raw := c.SerialNumber.Bytes()
	if len(raw) != 18 || raw[0] != serialPrefix {
		t.Errorf("serial %x: %d bytes, want 18 starting %#x", raw, len(raw), serialPrefix)
	}
	if len(leaf.Serial) != 36 || leaf.Serial != fmt.Sprintf("%x", raw) {
		t.Errorf("Serial = %q, want 36 hex digits of %x", leaf.Serial, raw)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU = %v %v, want serverAuth only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if c.IsCA || !c.BasicConstraintsValid {
		t.Error("basicConstraints: want CA:false")
	}
	for _, oid := range []string{oidKU, oidBC} {
		if present, critical := ext(c, oid); !present || !critical {
			t.Errorf("extension %s present=%v critical=%v, want critical", oid, present, critical)
		}
	}
	if len(c.Policies) != 1 || c.Policies[0].String() != oidDV {
		t.Errorf("policies = %v, want [%s]", c.Policies, oidDV)
	}
	if present, _ := ext(c, oidAKI); !present || string(c.AuthorityKeyId) != string(leaf.Issuer.Cert.SubjectKeyId) {
		t.Error("AKI missing or not the issuer's SKID")
	}
	if len(c.OCSPServer) != 0 {
		t.Errorf("OCSP URL %v, want none", c.OCSPServer)
	}
	if iss, ok := h.IssuerOf(c); !ok || iss != leaf.Issuer {
		t.Errorf("IssuerOf = %v, want %s", iss, leaf.Issuer.ID)
	}
}

func TestCommonNameRule(t *testing.T) {
	long := strings.Repeat("a", 60) + ".example" // 68 characters
	tests := []struct {
		name  string
		csrCN string
		dns   []string
		want  string
	}{
		{"no CSR CN promotes first name", "", []string{"a.example", "b.example"}, "a.example"},
		{"CSR CN among names is kept", "b.example", []string{"a.example", "b.example"}, "b.example"},
		{"CSR CN matched case-insensitively", "B.Example", []string{"a.example", "b.example"}, "b.example"},
		{"CSR CN not among names is replaced", "c.example", []string{"a.example", "b.example"}, "a.example"},
		{"long first name is skipped", "", []string{long, "b.example"}, "b.example"},
		{"64 characters fit", "", []string{strings.Repeat("a", 56) + ".example"}, strings.Repeat("a", 56) + ".example"},
		{"all names too long", "", []string{long}, ""},
		{"long CSR CN among names is kept", long, []string{"a.example", long}, long},
		{"IP CSR CN is never used", "192.0.2.1", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commonName(tt.csrCN, tt.dns); got != tt.want {
				t.Fatalf("commonName(%q, %v) = %q, want %q", tt.csrCN, tt.dns, got, tt.want)
			}
		})
	}
}

func TestIssueCommonName(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	key := newTestKey(t, "p256")
	long := strings.Repeat("x", 70) + ".example"
	tests := []struct {
		name    string
		req     LeafRequest
		wantCN  string
		wantSAN bool // SAN critical
	}{
		{"CSR CN kept", LeafRequest{CommonName: "b.example", DNSNames: []string{"a.example", "b.example"}}, "b.example", false},
		{"long first name promoted past", LeafRequest{DNSNames: []string{long, "b.example"}}, "b.example", false},
		{"only long name: no CN, SAN critical", LeafRequest{DNSNames: []string{long}}, "", true},
		{"IP only: no CN", LeafRequest{CommonName: "192.0.2.1", IPs: []net.IP{net.ParseIP("192.0.2.1")}}, "", true},
		{"omitted by profile", LeafRequest{CommonName: "a.example", DNSNames: []string{"a.example"},
			Profile: Profile{OmitCommonName: true}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.PublicKey = key.Public()
			req.Profile.Validity = time.Hour
			leaf, err := h.Issue(req)
			if err != nil {
				t.Fatal(err)
			}
			if leaf.Cert.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", leaf.Cert.Subject.CommonName, tt.wantCN)
			}
			if _, critical := ext(leaf.Cert, oidSAN); critical != tt.wantSAN {
				t.Errorf("SAN critical = %v, want %v", critical, tt.wantSAN)
			}
		})
	}
}

func TestIssueURLs(t *testing.T) {
	key := newTestKey(t, "p384")
	tests := []struct {
		name    string
		cfg     Config
		wantAIA string
		wantCRL string // base; the shard is checked separately
		shards  int
	}{
		{name: "none configured", cfg: Config{}},
		{name: "AIA only", cfg: Config{AIABaseURL: "http://127.0.0.1:14080/aia/"},
			wantAIA: "http://127.0.0.1:14080/aia/e1.der"},
		{name: "CRL with default shards", cfg: Config{CRLBaseURL: "http://127.0.0.1:14080/crl/"},
			wantCRL: "http://127.0.0.1:14080/crl/e1/", shards: 128},
		{name: "both, staging, 3 shards", cfg: Config{Hierarchy: "letsencrypt-staging",
			AIABaseURL: "http://i.example/", CRLBaseURL: "http://c.example/", CRLShards: 3},
			wantAIA: "http://i.example/ye1.der", wantCRL: "http://c.example/ye1/", shards: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHierarchy(t, tt.cfg)
			for range 5 {
				c := issue(t, h, key, DefaultProfiles()["classic"], "a.example").Cert
				if present, _ := ext(c, oidAIA); present != (tt.wantAIA != "") {
					t.Fatalf("AIA present = %v", present)
				}
				if tt.wantAIA != "" && !slices.Equal(c.IssuingCertificateURL, []string{tt.wantAIA}) {
					t.Errorf("caIssuers = %v, want [%s]", c.IssuingCertificateURL, tt.wantAIA)
				}
				if present, _ := ext(c, oidCRLDP); present != (tt.wantCRL != "") {
					t.Fatalf("CRLDP present = %v", present)
				}
				if tt.wantCRL == "" {
					continue
				}
				shard := new(big.Int).Mod(c.SerialNumber, big.NewInt(int64(tt.shards))).Int64() + 1
				want := fmt.Sprintf("%s%d.crl", tt.wantCRL, shard)
				if !slices.Equal(c.CRLDistributionPoints, []string{want}) {
					t.Errorf("CRLDP = %v, want [%s]", c.CRLDistributionPoints, want)
				}
			}
		})
	}
}

func TestCRLShard(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		serial int64
		want   int
	}{
		{"zero", 0, 0, 1},
		{"last of 128", 0, 127, 128},
		{"wraps", 0, 128, 1},
		{"4 shards", 4, 7, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Hierarchy{shards: big.NewInt(int64(Config{CRLShards: tt.shards}.shards()))}
			if got := h.CRLShard(big.NewInt(tt.serial)); got != tt.want {
				t.Fatalf("CRLShard(%d) = %d, want %d", tt.serial, got, tt.want)
			}
		})
	}
}

func TestIssueValidityOverrides(t *testing.T) {
	h, clk := newHierarchy(t, Config{})
	key := newTestKey(t, "p256")
	now := clk.Now()
	nb, na := now.Add(-12*time.Hour).Truncate(time.Second), now.Add(72*time.Hour).Truncate(time.Second)
	tests := []struct {
		name           string
		nb, na         time.Time
		wantNB, wantNA time.Time
	}{
		{"both", nb, na, nb, na},
		{"notBefore only", nb, time.Time{}, nb, nb.Add(90*24*time.Hour - time.Second)},
		{"notAfter only", time.Time{}, na, now.Add(-time.Hour), na},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := h.Issue(LeafRequest{PublicKey: key.Public(), DNSNames: []string{"a.example"},
				Profile: DefaultProfiles()["classic"], NotBefore: tt.nb, NotAfter: tt.na})
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.Cert.NotBefore.Equal(tt.wantNB) || !leaf.Cert.NotAfter.Equal(tt.wantNA) {
				t.Fatalf("validity [%s, %s], want [%s, %s]", leaf.Cert.NotBefore, leaf.Cert.NotAfter, tt.wantNB, tt.wantNA)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	h, _ := newHierarchy(t, Config{})
	pub := newTestKey(t, "p256").Public()
	classic := DefaultProfiles()["classic"]
	issNotAfter := h.Issuers()[1].Cert.NotAfter
	tests := []struct {
		name string
		req  LeafRequest
		want error
	}{
		{"unsupported key", LeafRequest{PublicKey: "not a key", DNSNames: []string{"a.example"}, Profile: classic}, ErrUnsupportedKey},
		{"nil key", LeafRequest{DNSNames: []string{"a.example"}, Profile: classic}, ErrUnsupportedKey},
		{"no identifiers", LeafRequest{PublicKey: pub, Profile: classic}, ErrNoIdentifiers},
		{"zero profile", LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"}}, ErrValidity},
		{"negative backdate", LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"},
			Profile: Profile{Validity: time.Hour, Backdate: -time.Hour}}, ErrValidity},
		{"inverted window", LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"}, Profile: classic,
			NotAfter: testStart().Add(-2 * time.Hour)}, ErrValidity},
		{"past the issuer", LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"}, Profile: classic,
			NotAfter: issNotAfter.Add(time.Second)}, ErrValidity},
		{"before the issuer", LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"}, Profile: classic,
			NotBefore: testStart().AddDate(-1, 0, 0)}, ErrValidity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.Issue(tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("Issue() error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("clock past the intermediate", func(t *testing.T) {
		h, clk := newHierarchy(t, Config{})
		clk.SetTime(testStart().AddDate(5, 0, 0))
		if _, err := h.Issue(LeafRequest{PublicKey: pub, DNSNames: []string{"a.example"}, Profile: classic}); !errors.Is(err, ErrValidity) {
			t.Fatalf("Issue() error = %v, want ErrValidity", err)
		}
	})
}

func TestIssueConcurrent(t *testing.T) {
	h, _ := newHierarchy(t, Config{CRLBaseURL: "http://c.example/"})
	keys := []crypto.Signer{newTestKey(t, "p256"), newTestKey(t, "rsa")}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		serials = map[string]bool{}
	)
	for i := range 32 {
		wg.Go(func() {
			leaf, err := h.Issue(LeafRequest{PublicKey: keys[i%2].Public(),
				DNSNames: []string{fmt.Sprintf("n%d.example", i)}, Profile: DefaultProfiles()["shortlived"]})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			serials[leaf.Serial] = true
		})
	}
	wg.Wait()
	if len(serials) != 32 {
		t.Fatalf("%d distinct serials, want 32", len(serials))
	}
}

func TestSerialString(t *testing.T) {
	tests := []struct {
		name string
		in   *big.Int
		want string
	}{
		{"small is zero-padded", big.NewInt(0xab), strings.Repeat("0", 34) + "ab"},
		{"18 bytes", new(big.Int).SetBytes([]byte{0x66, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0xff}),
			"660102030405060708090a0b0c0d0e0f10ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SerialString(tt.in); got != tt.want {
				t.Fatalf("SerialString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultProfiles(t *testing.T) {
	got := DefaultProfiles()
	want := map[string]Profile{
		"classic":    {Name: "classic", Validity: 2160 * time.Hour, Backdate: time.Hour},
		"tlsserver":  {Name: "tlsserver", Validity: 1080 * time.Hour, Backdate: time.Hour, OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
		"shortlived": {Name: "shortlived", Validity: 160 * time.Hour, Backdate: time.Hour, OmitCommonName: true, OmitKeyEncipherment: true, OmitSKID: true},
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			if got[name] != w {
				t.Fatalf("DefaultProfiles()[%q] = %+v, want %+v", name, got[name], w)
			}
		})
	}
	if len(got) != len(want) {
		t.Fatalf("%d profiles, want %d", len(got), len(want))
	}
}
