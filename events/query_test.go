package events

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fakeca/fakeca/acme"
)

// fixture appends a small troubleshooting story and returns the journal.
//
//	seq kind                  account order authz identifiers
//	1   account-created       1
//	2   order-created         1       10          www.example.com, example.com
//	3   order-created         1       11          *.example.com
//	4   challenge-started     1       11    100   example.com (the wildcard's authz)
//	5   validation-failed     1       11    100   example.com
//	6   rate-limited          2                   Example.COM.
//	7   order-created         2       12          other.test, 192.0.2.1 (ip)
//	8   certificate-issued    1       10          www.example.com, example.com
func fixture(t testing.TB) *Journal {
	t.Helper()
	j, _, _ := newJournal(t, 100, nil)
	ip := acme.Identifier{Type: acme.TypeIP, Value: "192.0.2.1"}
	for _, e := range []Event{
		{Kind: AccountCreated, Account: 1},
		{Kind: OrderCreated, Account: 1, Order: 10, Identifiers: dns("www.example.com", "example.com")},
		{Kind: OrderCreated, Account: 1, Order: 11, Identifiers: dns("*.example.com")},
		{Kind: ChallengeStarted, Account: 1, Order: 11, Authz: 100, Identifiers: dns("example.com"), Challenge: "dns-01"},
		{Kind: ValidationFailed, Account: 1, Order: 11, Authz: 100, Identifiers: dns("example.com"), Challenge: "dns-01",
			Problem: &Problem{Type: "urn:ietf:params:acme:error:dns", Detail: "No TXT record found at _acme-challenge.example.com", Status: 400}},
		{Kind: RateLimited, Account: 2, Identifiers: dns("Example.COM."), Limit: "NewOrdersPerAccount"},
		{Kind: OrderCreated, Account: 2, Order: 12, Identifiers: append(dns("other.test"), ip)},
		{Kind: CertificateIssued, Account: 1, Order: 10, Serial: "abc", Identifiers: dns("www.example.com", "example.com")},
	} {
		j.Append(e)
	}
	return j
}

func TestQuery(t *testing.T) {
	j := fixture(t)
	tests := []struct {
		name   string
		filter Filter
		want   []uint64
	}{
		{"everything", Filter{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8}},
		{"by account", Filter{Account: 1}, []uint64{1, 2, 3, 4, 5, 8}},
		{"by other account", Filter{Account: 2}, []uint64{6, 7}},
		{"unknown account", Filter{Account: 3}, []uint64{}},
		{"by order", Filter{Order: 11}, []uint64{3, 4, 5}},
		{"unknown order", Filter{Order: 99}, []uint64{}},
		{"base name finds its wildcard, authz and other case", Filter{Identifier: "example.com"}, []uint64{2, 3, 4, 5, 6, 8}},
		{"wildcard finds its base", Filter{Identifier: "*.example.com"}, []uint64{2, 3, 4, 5, 6, 8}},
		{"case and trailing dot ignored", Filter{Identifier: "EXAMPLE.com."}, []uint64{2, 3, 4, 5, 6, 8}},
		{"subdomain matches only itself", Filter{Identifier: "www.example.com"}, []uint64{2, 8}},
		{"parent does not match a subdomain", Filter{Identifier: "other"}, []uint64{}},
		{"ip address", Filter{Identifier: "192.0.2.1"}, []uint64{7}},
		{"bare wildcard label matches nothing", Filter{Identifier: "*."}, []uint64{}},
		{"one kind", Filter{Kinds: []Kind{OrderCreated}}, []uint64{2, 3, 7}},
		{"several kinds", Filter{Kinds: []Kind{ValidationFailed, RateLimited}}, []uint64{5, 6}},
		{"identifier and account", Filter{Identifier: "example.com", Account: 2}, []uint64{6}},
		{"identifier and order", Filter{Identifier: "example.com", Order: 10}, []uint64{2, 8}},
		{"account and kind", Filter{Account: 1, Kinds: []Kind{OrderCreated}}, []uint64{2, 3}},
		{"order of another account", Filter{Account: 2, Order: 11}, []uint64{}},
		{"limit keeps the newest", Filter{Account: 1, Limit: 2}, []uint64{5, 8}},
		{"limit larger than matches", Filter{Order: 10, Limit: 5}, []uint64{2, 8}},
		{"since without limit", Filter{Since: 5}, []uint64{6, 7, 8}},
		{"since with limit pages forward", Filter{Since: 2, Limit: 3}, []uint64{3, 4, 5}},
		{"since with index", Filter{Identifier: "example.com", Since: 4, Limit: 2}, []uint64{5, 6}},
		{"since past the end", Filter{Since: 8}, []uint64{}},
		{"negative limit means no cap", Filter{Order: 11, Limit: -1}, []uint64{3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seqs(j.Query(tt.filter)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueryReturnsTheWholeEvent(t *testing.T) {
	j := fixture(t)
	evs := j.Query(Filter{Kinds: []Kind{ValidationFailed}})
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	e := evs[0]
	if e.Account != 1 || e.Order != 11 || e.Authz != 100 || e.Challenge != "dns-01" || e.Problem == nil ||
		e.Problem.Detail != "No TXT record found at _acme-challenge.example.com" {
		t.Errorf("event lost fields: %+v", e)
	}
}

// TestQueryMatchesBruteForce checks the indexes against a linear scan
// after the ring has wrapped many times.
func TestQueryMatchesBruteForce(t *testing.T) {
	const capacity = 64
	j, _, _ := newJournal(t, capacity, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []Event
	names := []string{"a.test", "*.a.test", "b.test", "A.TEST", "c.test"}
	for range 1000 {
		e := Event{Kind: Kinds()[rng.IntN(4)], Account: rng.Int64N(4), Order: rng.Int64N(8)}
		for range rng.IntN(3) {
			e.Identifiers = append(e.Identifiers, dns(names[rng.IntN(len(names))])...)
		}
		e.Seq = j.Append(e)
		all = append(all, e)
	}
	kept := all[len(all)-capacity:]
	for _, f := range []Filter{
		{}, {Account: 1}, {Account: 3, Order: 2}, {Order: 5}, {Identifier: "a.test"}, {Identifier: "*.b.test"},
		{Identifier: "c.test", Account: 2}, {Kinds: []Kind{OrderCreated}}, {Identifier: "a.test", Since: 980},
		{Account: 2, Limit: 5}, {Identifier: "b.test", Since: 950, Limit: 3},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			if got, want := seqs(j.Query(f)), seqs(bruteForce(kept, f)); !slices.Equal(got, want) {
				t.Errorf("index says %v, scan says %v", got, want)
			}
		})
	}
	assertIndexesBounded(t, j)
}

// bruteForce is Query by linear scan: the specification of the indexes.
func bruteForce(evs []Event, f Filter) []Event {
	var out []Event
	key := identifierKey(f.Identifier)
	for _, e := range evs {
		if e.Seq <= f.Since || (f.Account != 0 && e.Account != f.Account) || (f.Order != 0 && e.Order != f.Order) ||
			(len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind)) || (f.Identifier != "" && !e.hasKey(key)) {
			continue
		}
		out = append(out, e)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		if f.Since > 0 {
			return out[:f.Limit]
		}
		return out[len(out)-f.Limit:]
	}
	return out
}
