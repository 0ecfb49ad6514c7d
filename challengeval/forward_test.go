package challengeval

import (
	"slices"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

func TestForwardZones(t *testing.T) {
	good := `60 IN TXT "` + digest(testKeyAuthz) + `"`
	upstream := newZone(t,
		`_acme-challenge.outside.example. `+good,
		`_acme-challenge.notfakeca.test. `+good,
		`_acme-challenge.alias.example. 60 IN CNAME _acme-challenge.x.fakeca.test.`,
	)
	upstream.noRecurse = true // the chain's end must be asked where it lives
	zone := newZone(t,
		`_acme-challenge.fakeca.test. `+good,
		`_acme-challenge.x.fakeca.test. `+good,
	)
	deep := newZone(t, `_acme-challenge.a.deep.fakeca.test. `+good)
	zones := map[string]*testZone{"upstream": upstream, "zone": zone, "deep": deep}
	v := newValidator(t, Config{SkipCAA: true, Resolvers: []string{startDNS(t, upstream)}, Forward: []Forward{
		{Zone: "fakeca.test", Server: startDNS(t, zone)},
		{Zone: "Deep.FakeCA.test.", Server: startDNS(t, deep)},
	}})
	tests := []struct {
		name, domain string
		want         map[string][]string // queries each server saw
	}{
		{name: "outside every zone", domain: "outside.example",
			want: map[string][]string{"upstream": {"udp TXT _acme-challenge.outside.example."}}},
		{name: "the zone's own name", domain: "fakeca.test",
			want: map[string][]string{"zone": {"udp TXT _acme-challenge.fakeca.test."}}},
		{name: "below the zone", domain: "x.fakeca.test",
			want: map[string][]string{"zone": {"udp TXT _acme-challenge.x.fakeca.test."}}},
		{name: "longest zone wins", domain: "a.deep.fakeca.test",
			want: map[string][]string{"deep": {"udp TXT _acme-challenge.a.deep.fakeca.test."}}},
		{name: "suffix without a label boundary", domain: "notfakeca.test",
			want: map[string][]string{"upstream": {"udp TXT _acme-challenge.notfakeca.test."}}},
		{name: "CNAME into a forwarded zone", domain: "alias.example", want: map[string][]string{
			"upstream": {"udp TXT _acme-challenge.alias.example."},
			"zone":     {"udp TXT _acme-challenge.x.fakeca.test."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{}
			for k, z := range zones {
				before[k] = len(z.seen())
			}
			err := validate(t, v, Request{Type: acme.ChallengeDNS01, KeyAuthorization: testKeyAuthz,
				Identifier: acme.Identifier{Type: acme.TypeDNS, Value: tt.domain}})
			checkProblem(t, err, "", "")
			for k, z := range zones {
				if got := z.seen()[before[k]:]; !slices.Equal(got, tt.want[k]) {
					t.Errorf("%s saw %q, want %q", k, got, tt.want[k])
				}
			}
		})
	}
}

func TestForwardRootZoneNeedsNoResolvers(t *testing.T) {
	z := newZone(t, `a.test. 60 IN A 192.0.2.7`)
	v := newValidator(t, Config{Forward: []Forward{{Zone: ".", Server: startDNS(t, z)}}})
	addrs, err := v.LookupHost(t.Context(), "a.test")
	if err != nil || len(addrs) != 1 || addrs[0].String() != "192.0.2.7" {
		t.Fatalf("got %v, %v; want [192.0.2.7]", addrs, err)
	}
}
