package store

import (
	"errors"
	"testing"
	"time"

	"github.com/fakeca/fakeca/acme"
)

func t0() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

// indexLen returns how many entries x holds under key.
func indexLen(x *index, key string) int {
	s := &x.shards[strHash(key)%nShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m[key])
}

func TestIndexPut(t *testing.T) {
	e := func(id int64, ver uint64, exp time.Duration) entry {
		return entry{id: id, ver: ver, exp: t0().Add(exp)}
	}
	type put struct {
		e       entry
		created time.Duration // zero: no pruning
	}
	cases := map[string]struct {
		puts []put
		want []entry
	}{
		"new objects append": {
			puts: []put{{e: e(1, 1, time.Hour)}, {e: e(2, 1, time.Hour)}},
			want: []entry{e(1, 1, time.Hour), e(2, 1, time.Hour)},
		},
		"a newer version replaces": {
			puts: []put{{e: e(1, 1, time.Hour)}, {e: e(1, 3, 2*time.Hour)}},
			want: []entry{e(1, 3, 2*time.Hour)},
		},
		"an older version is ignored": {
			puts: []put{{e: e(1, 3, time.Hour)}, {e: e(1, 2, 2*time.Hour)}},
			want: []entry{e(1, 3, time.Hour)},
		},
		"entries expired before the new one's creation go": {
			puts: []put{{e: e(1, 1, time.Hour)}, {e: e(2, 1, 3*time.Hour)},
				{e: e(3, 1, 5*time.Hour), created: 2 * time.Hour}},
			want: []entry{e(2, 1, 3*time.Hour), e(3, 1, 5*time.Hour)},
		},
		"expiring at creation goes, the object itself stays": {
			puts: []put{{e: e(1, 1, time.Hour)}, {e: e(2, 1, time.Hour), created: time.Hour}},
			want: []entry{e(2, 1, time.Hour)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var x index
			for _, p := range tc.puts {
				var created time.Time
				if p.created != 0 {
					created = t0().Add(p.created)
				}
				x.put("k", p.e, created)
			}
			got, _ := x.list("k", func(entry) bool { return true })
			if len(got) != len(tc.want) {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].id != tc.want[i].id || got[i].ver != tc.want[i].ver || !got[i].exp.Equal(tc.want[i].exp) {
					t.Errorf("entries %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestIndexDropSeen(t *testing.T) {
	cases := map[string]struct {
		seen    uint64 // version at which a look-up saw object 1 not qualify
		wantLen int
	}{
		"seen at the filed version":       {seen: 3, wantLen: 1},
		"seen later":                      {seen: 4, wantLen: 1},
		"seen earlier, since filed again": {seen: 2, wantLen: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var x index
			x.put("k", entry{id: 1, ver: 3}, time.Time{})
			x.put("k", entry{id: 2, ver: 1}, time.Time{})
			x.drop("k", staleSeen([]entry{{id: 1, ver: tc.seen}}))
			if n := indexLen(&x, "k"); n != tc.wantLen {
				t.Errorf("%d entries left, want %d", n, tc.wantLen)
			}
		})
	}
	var x index
	x.put("k", entry{id: 1, ver: 1}, time.Time{})
	x.drop("k", func(entry) bool { return true })
	if _, ok := x.shards[strHash("k")%nShards].m["k"]; ok {
		t.Error("an emptied key stays in the index")
	}
}

// TestReuseIndexesShrink checks that orders and authorizations that stop
// qualifying leave the indexes on look-up.
func TestReuseIndexesShrink(t *testing.T) {
	ctx := t.Context()
	m := NewMemory()
	ids := []acme.Identifier{{Type: acme.TypeDNS, Value: "a.example"}}
	var orders []Order
	for i := range 4 {
		o, err := m.CreateOrder(ctx, Order{AccountID: 1, Identifiers: ids, Created: t0(),
			Expires: t0().Add(time.Duration(i+1) * time.Hour)},
			[]Authorization{{AccountID: 1, Identifier: ids[0], Status: acme.StatusValid, Expires: t0().Add(time.Duration(i+1) * time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	ok, ak := orderKey(1, ids, ""), authzKey(1, ids[0], false, "")
	if o, a := indexLen(&m.orderIdx, ok), indexLen(&m.authzIdx, ak); o != 4 || a != 4 {
		t.Fatalf("indexes hold %d orders and %d authzs, want 4 and 4", o, a)
	}
	_, _ = m.UpdateOrder(ctx, orders[3].ID, func(o *Order) error { o.BeganProcessing = true; return nil })
	got, err := m.FindReusableOrder(ctx, OrderKey{AccountID: 1, Identifiers: ids}, t0().Add(90*time.Minute))
	if err != nil || got.ID != orders[2].ID {
		t.Fatalf("FindReusableOrder = %d, %v; want %d", got.ID, err, orders[2].ID)
	}
	if n := indexLen(&m.orderIdx, ok); n != 2 {
		t.Errorf("order index holds %d entries, want 2 (expired and processing ones dropped)", n)
	}
	for _, o := range orders[2:] {
		_, _ = m.UpdateAuthz(ctx, o.AuthzIDs[0], func(a *Authorization) error {
			a.Status = acme.StatusDeactivated
			return nil
		})
	}
	a, err := m.FindValidAuthz(ctx, AuthzKey{AccountID: 1, Identifier: ids[0]}, t0())
	if err != nil || a.ID != orders[1].AuthzIDs[0] {
		t.Fatalf("FindValidAuthz = %d, %v; want %d", a.ID, err, orders[1].AuthzIDs[0])
	}
	if n := indexLen(&m.authzIdx, ak); n != 2 {
		t.Errorf("authz index holds %d entries, want 2 (deactivated ones dropped)", n)
	}
}

// TestFindValidAuthzRechecksExpiry files an entry that claims a later
// expiry than the authorization has, as a lagging index can.
func TestFindValidAuthzRechecksExpiry(t *testing.T) {
	ctx := t.Context()
	m := NewMemory()
	id := acme.Identifier{Type: acme.TypeDNS, Value: "a.example"}
	o, err := m.CreateOrder(ctx, Order{}, []Authorization{{Identifier: id, Status: acme.StatusValid,
		Expires: t0().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	m.authzIdx.put(authzKey(0, id, false, ""), entry{id: o.AuthzIDs[0], ver: 9, exp: t0().Add(3 * time.Hour)}, time.Time{})
	_, err = m.FindValidAuthz(ctx, AuthzKey{Identifier: id}, t0().Add(2*time.Hour))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("FindValidAuthz = %v, want ErrNotFound", err)
	}
}

func TestGetAccountByKeyIDRechecksAccount(t *testing.T) {
	ctx := t.Context()
	m := NewMemory()
	a, err := m.CreateAccount(ctx, Account{KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.accountKeys.reserve("k2", a.ID); err != nil { // as mid key change
		t.Fatal(err)
	}
	if _, err := m.GetAccountByKeyID(ctx, "k2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetAccountByKeyID(reserved key) = %v, want ErrNotFound", err)
	}
}

// TestUpdateAccountRetriesWhenAccountMoves makes the account change between
// a key change's reservation and its write, as a concurrent update would,
// and checks that the abandoned reservation is released.
func TestUpdateAccountRetriesWhenAccountMoves(t *testing.T) {
	ctx := t.Context()
	m := NewMemory()
	a, err := m.CreateAccount(ctx, Account{KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, err := m.UpdateAccount(ctx, a.ID, func(acct *Account) error {
		calls++
		switch calls {
		case 1: // unlocked attempt
			acct.KeyID = "k2"
		case 2: // under the key-change lock: pretend another update lands
			acct.KeyID = "k2"
			m.accounts.at(idHash(a.ID)).m[a.ID].ver++ // the shard lock is held
		default:
			acct.KeyID = "k3"
		}
		return nil
	})
	if err != nil || got.KeyID != "k3" || calls != 3 {
		t.Fatalf("UpdateAccount = %q, %v after %d calls; want k3 after 3", got.KeyID, err, calls)
	}
	for key, want := range map[string]error{"k1": ErrNotFound, "k2": ErrNotFound, "k3": nil} {
		if _, err := m.GetAccountByKeyID(ctx, key); !errors.Is(err, want) {
			t.Errorf("GetAccountByKeyID(%s) = %v, want %v", key, err, want)
		}
	}
	for _, key := range []string{"k1", "k2"} {
		if _, err := m.CreateAccount(ctx, Account{KeyID: key}); err != nil {
			t.Errorf("key %s is still taken: %v", key, err)
		}
	}
}
