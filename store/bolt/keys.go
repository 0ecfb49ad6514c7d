package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// bbolt keys. Objects with an int64 ID are keyed by idKey, so they sort by
// ID; objects and index entries keyed by a string use strKey. Index keys
// start with a fixed-length prefix (a hash, or a self-delimiting encoding)
// so that a prefix scan finds exactly one key's entries.

// hashLen is the length of the hashed prefix of order and authz index keys.
const hashLen = 16

// timeLen is the length of a timeKey.
const timeLen = 12

func idKey(id int64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(id)) }

// idAt returns the ID at the end of an index key.
func idAt(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[len(k)-8:])) }

// strKey is the key of a string: a tag byte and the string, so that the
// empty string, which bbolt rejects as a key, is a key too.
func strKey(s string) []byte {
	b := make([]byte, 1+len(s))
	b[0] = 's'
	copy(b[1:], s)
	return b
}

// appendTime appends t in 12 bytes that sort like the times: seconds since
// 1970 with the sign bit flipped, then nanoseconds, both big-endian.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// parseTime reads a time written by appendTime; b must hold timeLen bytes.
func parseTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

// hasher builds the hashed prefix of an index key from length-prefixed
// fields, so different field lists never hash the same input.
type hasher struct{ b []byte }

func (h *hasher) str(s string) *hasher {
	h.b = binary.AppendUvarint(h.b, uint64(len(s)))
	h.b = append(h.b, s...)
	return h
}

func (h *hasher) int(v int64) *hasher {
	h.b = binary.AppendVarint(h.b, v)
	return h
}

func (h *hasher) sum() []byte {
	s := sha256.Sum256(h.b)
	return s[:hashLen]
}

// orderPrefix is the order-index prefix of an OrderKey.
func orderPrefix(account int64, ids []acme.Identifier, profile string) []byte {
	h := (&hasher{}).int(account).str(profile).int(int64(len(ids)))
	for _, id := range ids {
		h.str(string(id.Type)).str(id.Value)
	}
	return h.sum()
}

// authzPrefix is the authz-index prefix of an AuthzKey.
func authzPrefix(account int64, id acme.Identifier, wildcard bool, profile string) []byte {
	w := int64(0)
	if wildcard {
		w = 1
	}
	return (&hasher{}).int(account).str(string(id.Type)).str(id.Value).int(w).str(profile).sum()
}

// revokedPrefix is the revoked-index prefix of a CRL shard: the issuer ID,
// length-prefixed, and the shard number as an 8-byte big-endian integer.
func revokedPrefix(issuerID string, shard int) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 16+len(issuerID)), uint64(len(issuerID)))
	b = append(b, issuerID...)
	return binary.BigEndian.AppendUint64(b, uint64(int64(shard)))
}

// entry is an index entry; a nil k means "not indexed".
type entry struct{ k, v []byte }

// orderEntry files an order that has not begun processing under its key:
// prefix + ID → Expires. Walking the prefix backwards visits the newest
// order first.
func orderEntry(o *store.Order) entry {
	if o.BeganProcessing {
		return entry{}
	}
	k := binary.BigEndian.AppendUint64(orderPrefix(o.AccountID, o.Identifiers, o.Profile), uint64(o.ID))
	return entry{k: k, v: appendTime(make([]byte, 0, timeLen), o.Expires)}
}

// authzEntry files a valid authorization under its key: prefix + Expires +
// ID → nothing. Walking the prefix backwards visits the latest expiry
// first, and among equal expiries the highest ID.
func authzEntry(a *store.Authorization) entry {
	if a.Status != acme.StatusValid {
		return entry{}
	}
	k := appendTime(authzPrefix(a.AccountID, a.Identifier, a.Wildcard, a.Profile), a.Expires)
	return entry{k: binary.BigEndian.AppendUint64(k, uint64(a.ID)), v: []byte{}}
}

// accountOrderEntry files every order under its account: idKey(account) +
// idKey(order) → nothing, so a prefix scan lists the account's orders in ID
// order.
func accountOrderEntry(o *store.Order) entry {
	return entry{k: append(idKey(o.AccountID), idKey(o.ID)...), v: []byte{}}
}

// unfinishedOrderEntry files an unfinished order (store.Order.Unfinished)
// by ID.
func unfinishedOrderEntry(o *store.Order) entry {
	if !o.Unfinished() {
		return entry{}
	}
	return entry{k: idKey(o.ID), v: []byte{}}
}

// unfinishedAuthzEntry files an unfinished authorization
// (store.Authorization.Unfinished) by ID.
func unfinishedAuthzEntry(a *store.Authorization) entry {
	if !a.Unfinished() {
		return entry{}
	}
	return entry{k: idKey(a.ID), v: []byte{}}
}

// revokedEntry files a revoked certificate under its CRL shard: prefix +
// serial → nothing, so a prefix scan lists serials in order.
func revokedEntry(c *store.Certificate) entry {
	if !c.Revoked {
		return entry{}
	}
	return entry{k: append(revokedPrefix(c.IssuerID, c.CRLShard), c.Serial...), v: []byte{}}
}

// reindex replaces entry old with cur in b and reports whether cur is a
// new entry (so that the caller prunes around it).
func reindex(b *bbolt.Bucket, old, cur entry) (bool, error) {
	if bytes.Equal(old.k, cur.k) && bytes.Equal(old.v, cur.v) {
		return false, nil
	}
	if old.k != nil {
		if err := b.Delete(old.k); err != nil {
			return false, err
		}
	}
	if cur.k == nil {
		return false, nil
	}
	return true, b.Put(cur.k, cur.v)
}

// seekLast positions c on the last key that starts with prefix and returns
// it, or nil if there is none. prefix must be shorter than the keys.
func seekLast(c *bbolt.Cursor, prefix []byte) (k, v []byte) {
	end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 32)...)
	if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	return k, v
}

// deleteKeys deletes keys from b. Deleting while a cursor walks b would
// make it skip keys, so the walkers collect first.
func deleteKeys(b *bbolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// pruneOrders deletes the order-index entries under prefix, other than
// keep's, that expired at or before created: a time that has passed, so
// that no look-up (whose now never goes back) can want them. This bounds
// each key's entries by the orders alive at once.
func pruneOrders(b *bbolt.Bucket, prefix []byte, keep int64, created time.Time) error {
	if created.IsZero() {
		return nil
	}
	var dead [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if idAt(k) != keep && len(v) == timeLen && !parseTime(v).After(created) {
			dead = append(dead, bytes.Clone(k))
		}
	}
	return deleteKeys(b, dead)
}

// pruneAuthzs deletes the authz-index entries under prefix, other than
// keep's, that expired at or before created; see pruneOrders.
func pruneAuthzs(b *bbolt.Bucket, prefix []byte, keep int64, created time.Time) error {
	if created.IsZero() {
		return nil
	}
	var dead [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if parseTime(k[hashLen:]).After(created) {
			break
		}
		if idAt(k) != keep {
			dead = append(dead, bytes.Clone(k))
		}
	}
	return deleteKeys(b, dead)
}
