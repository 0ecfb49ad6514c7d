package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ratelimit"
)

// pauseKey is the rl-pauses key of an account's identifier: the account
// with its sign bit flipped (8 bytes big-endian), the identifier type, a
// NUL and the value. Keys sort as Pauses.List orders records: by account,
// then type, then value; an account's records share the 8-byte prefix.
func pauseKey(account int64, id acme.Identifier) []byte {
	k := make([]byte, 0, 8+len(id.Type)+1+len(id.Value))
	k = binary.BigEndian.AppendUint64(k, uint64(account)^(1<<63))
	k = append(append(k, id.Type...), 0)
	return append(k, id.Value...)
}

// accountPrefix is the pauseKey prefix of an account's records.
func accountPrefix(account int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(account)^(1<<63))
}

// decodePause reads a pause record from its key and value.
func decodePause(k, v []byte) (ratelimit.PausedIdentifier, error) {
	typ, value, ok := bytes.Cut(k[min(8, len(k)):], []byte{0})
	if len(k) < 8 || !ok || len(v) != 2*timeLen {
		return ratelimit.PausedIdentifier{}, corrupt("pause", fmt.Sprintf("%q", k),
			fmt.Errorf("%w: %d-byte key, %d-byte value", errCorrupt, len(k), len(v)))
	}
	return ratelimit.PausedIdentifier{
		Account:    int64(binary.BigEndian.Uint64(k) ^ (1 << 63)),
		Identifier: acme.Identifier{Type: acme.IdentifierType(typ), Value: string(value)},
		PausedAt:   parseTime(v), UnpausedAt: parseTime(v[timeLen:]),
	}, nil
}

// encodePause is the value of a pause record.
func encodePause(p ratelimit.PausedIdentifier) []byte {
	return appendTime(appendTime(make([]byte, 0, 2*timeLen), p.PausedAt), p.UnpausedAt)
}

// Pause implements ratelimit.Pauses.
func (p Pauses) Pause(ctx context.Context, account int64, id acme.Identifier, now time.Time) (ratelimit.PauseResult, error) {
	var res ratelimit.PauseResult
	err := p.s.write(ctx, func(tx *bbolt.Tx) error {
		b, k := bucket(tx, bucketRatePauses), pauseKey(account, id)
		rec := ratelimit.PausedIdentifier{Account: account, Identifier: id}
		if v := b.Get(k); v != nil {
			var err error
			if rec, err = decodePause(k, v); err != nil {
				return err
			}
		}
		rec, res = rec.Pause(now)
		if res != ratelimit.Paused && res != ratelimit.Repaused {
			return nil
		}
		return b.Put(k, encodePause(rec))
	})
	return res, err
}

// Paused implements ratelimit.Pauses.
func (p Pauses) Paused(ctx context.Context, account int64, ids []acme.Identifier, limit int) ([]acme.Identifier, error) {
	var out []acme.Identifier
	err := p.s.read(ctx, func(tx *bbolt.Tx) error {
		out = nil
		b := bucket(tx, bucketRatePauses)
		for _, id := range ids {
			if len(out) >= limit {
				break
			}
			k := pauseKey(account, id)
			v := b.Get(k)
			if v == nil {
				continue
			}
			rec, err := decodePause(k, v)
			if err != nil {
				return err
			}
			if rec.Paused() {
				out = append(out, id)
			}
		}
		return nil
	})
	return out, err
}

// Unpause implements ratelimit.Pauses, in one transaction.
func (p Pauses) Unpause(ctx context.Context, account int64, now time.Time, limit int) (int64, error) {
	var n int64
	err := p.s.write(ctx, func(tx *bbolt.Tx) error {
		n = 0
		b := bucket(tx, bucketRatePauses)
		var lift []ratelimit.PausedIdentifier
		prefix := accountPrefix(account)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(lift) < limit; k, v = c.Next() {
			rec, err := decodePause(k, v)
			if err != nil {
				return err
			}
			if rec.Paused() {
				lift = append(lift, rec)
			}
		}
		for _, rec := range lift { // not while the cursor runs: bbolt forbids it
			rec.UnpausedAt = now
			if err := b.Put(pauseKey(rec.Account, rec.Identifier), encodePause(rec)); err != nil {
				return err
			}
		}
		n = int64(len(lift))
		return nil
	})
	return n, err
}

// List implements ratelimit.Pauses; the key order is the wanted order.
func (p Pauses) List(ctx context.Context) ([]ratelimit.PausedIdentifier, error) {
	var out []ratelimit.PausedIdentifier
	err := p.s.read(ctx, func(tx *bbolt.Tx) error {
		return bucket(tx, bucketRatePauses).ForEach(func(k, v []byte) error {
			rec, err := decodePause(k, v)
			if err == nil && rec.Paused() {
				out = append(out, rec)
			}
			return err
		})
	})
	return out, err
}
