package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// The value format. Every stored object is one byte of format version
// followed by its fields in declaration order, without the ID or serial
// (that is the bbolt key):
//   - integers are varints (zig-zag for signed), booleans one byte;
//   - strings and byte slices are a uvarint length and the bytes; a byte
//     slice or any other slice is prefixed by its length plus one, with 0
//     meaning nil, so nil and empty read back as written;
//   - a time is a varint of whole seconds since January 1, year 1 UTC (so
//     the zero time is one byte) and a uvarint of nanoseconds; it reads back
//     in UTC, with no monotonic reading;
//   - a pointer is a presence byte and, if 1, the value.
//
// It is hand-rolled because it is about ten times faster than encoding/json
// (and gob) and 40% of the size (BenchmarkCodec). When a store type gains a
// field, encode it here, bump formatVersion and extend TestCodecFields
// (which fails until then). Where the new fields only come last (of the
// object, or of each element of a slice), the reader can keep reading the
// previous version by skipping them, as it does for version 1; otherwise
// values of another version are reported as corrupt, since nothing but
// fakeca's own test state lives in these files.
//
// Versions:
//   - 1: the first;
//   - 2 adds Order.CSR (last of the order) and Challenge.AccountURI (last
//     of each challenge); version 1 values read with those empty. Open
//     upgrades a version 1 file in place (initBuckets); its values are
//     rewritten in version 2 as they are updated.
//   - 3 changes no value (version 2 values read as they are) but adds the
//     account-orders index (Store.AccountOrders), which Open fills when it
//     upgrades a version 1 or 2 file. The bump makes an older fakeca, which
//     would write orders without indexing them, refuse the file.
//   - 4 changes no value either but adds the rate limiter's state: its
//     buckets, issuance history, pauses and unpause key (ratelimits.go),
//     which an upgraded file starts without. The bump makes an older
//     fakeca, which would keep that state in memory and restart every
//     limit, refuse the file.

// formatVersion is the first byte of every encoded value and the file
// format in the meta bucket.
const formatVersion = 4

// minReadVersion is the oldest value format the reader accepts.
const minReadVersion = 1

// zeroUnix is the Unix time of the zero time.Time.
const zeroUnix = -62135596800

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("bolt: corrupt value")

// writer appends encoded fields to b.
type writer struct{ b []byte }

func newWriter(size int) *writer {
	w := &writer{b: make([]byte, 0, size)}
	w.b = append(w.b, formatVersion)
	return w
}

func (w *writer) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *writer) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) bytes(b []byte) {
	if w.count(b == nil, len(b)) {
		w.b = append(w.b, b...)
	}
}

// count writes a slice header and reports whether elements follow.
func (w *writer) count(isNil bool, n int) bool {
	if isNil {
		w.uint(0)
		return false
	}
	w.uint(uint64(n) + 1)
	return n > 0
}

func (w *writer) time(t time.Time) {
	w.int(t.Unix() - zeroUnix)
	w.uint(uint64(t.Nanosecond()))
}

func (w *writer) strs(ss []string) {
	w.count(ss == nil, len(ss))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *writer) ident(id acme.Identifier) {
	w.str(string(id.Type))
	w.str(id.Value)
}

func (w *writer) idents(ids []acme.Identifier) {
	w.count(ids == nil, len(ids))
	for _, id := range ids {
		w.ident(id)
	}
}

func (w *writer) problem(p *store.Problem) {
	w.bool(p != nil)
	if p == nil {
		return
	}
	w.str(string(p.Type))
	w.str(p.Detail)
	w.int(int64(p.Status))
	w.bool(p.Identifier != nil)
	if p.Identifier != nil {
		w.ident(*p.Identifier)
	}
	w.count(p.Subproblems == nil, len(p.Subproblems))
	for i := range p.Subproblems {
		w.problem(&p.Subproblems[i])
	}
}

// reader decodes fields from b. The first malformed field sets err; from
// then on every method returns a zero value, so callers check err once.
// Everything returned is copied out of b, which may be bbolt's memory map.
type reader struct {
	b   []byte
	err error
	ver byte // the value's format version
}

// newReader checks the format version and returns a reader of the fields.
func newReader(b []byte) *reader {
	r := &reader{b: b}
	switch {
	case len(b) == 0:
		r.fail("empty value")
	case b[0] < minReadVersion || b[0] > formatVersion:
		r.fail(fmt.Sprintf("format version %d, want %d to %d", b[0], minReadVersion, formatVersion))
	default:
		r.ver, r.b = b[0], b[1:]
	}
	return r
}

// since reports whether the value has the fields added in format version v.
func (r *reader) since(v byte) bool { return r.ver >= v }

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	r.b = nil
}

// done returns the first error, or an error if bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}

func (r *reader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bool() bool {
	if len(r.b) == 0 || r.b[0] > 1 {
		r.fail("bad bool")
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

// raw returns the next n bytes, still in b.
func (r *reader) raw(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("length past the end")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string { return string(r.raw(r.uint())) }

// count reads a slice header: the number of elements, and whether the
// slice is nil. Every element takes at least one byte, so a count larger
// than what is left is corrupt (and never makes a huge allocation).
func (r *reader) count() (n int, isNil bool) {
	v := r.uint()
	if v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(r.b)) {
		r.fail("count past the end")
		return 0, true
	}
	return int(v - 1), false
}

func (r *reader) bytes() []byte {
	n, isNil := r.count()
	if isNil {
		return nil
	}
	return append(make([]byte, 0, n), r.raw(uint64(n))...)
}

func (r *reader) time() time.Time {
	sec, nsec := r.int(), r.uint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= uint64(time.Second) {
		r.fail("bad nanoseconds")
		return time.Time{}
	}
	return time.Unix(sec+zeroUnix, int64(nsec)).UTC()
}

func (r *reader) strs() []string {
	n, isNil := r.count()
	if isNil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *reader) ident() acme.Identifier {
	return acme.Identifier{Type: acme.IdentifierType(r.str()), Value: r.str()}
}

func (r *reader) idents() []acme.Identifier {
	n, isNil := r.count()
	if isNil {
		return nil
	}
	out := make([]acme.Identifier, n)
	for i := range out {
		out[i] = r.ident()
	}
	return out
}

func (r *reader) ints() []int64 {
	n, isNil := r.count()
	if isNil {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = r.int()
	}
	return out
}

func (r *reader) problem() *store.Problem {
	if !r.bool() {
		return nil
	}
	p := &store.Problem{
		Type:   acme.ErrorType(r.str()),
		Detail: r.str(),
		Status: int(r.int()),
	}
	if r.bool() {
		id := r.ident()
		p.Identifier = &id
	}
	n, isNil := r.count()
	if !isNil {
		p.Subproblems = make([]store.Problem, n)
		for i := range p.Subproblems {
			if sp := r.problem(); sp != nil {
				p.Subproblems[i] = *sp
			} else {
				r.fail("nil subproblem")
			}
		}
	}
	return p
}

func encodeAccount(a *store.Account) []byte {
	w := newWriter(64 + len(a.JWK) + len(a.KeyID))
	w.bytes(a.JWK)
	w.str(a.KeyID)
	w.str(string(a.Status))
	w.strs(a.Contact)
	w.time(a.CreatedAt)
	w.str(a.InitialIP)
	w.str(a.EABKeyID)
	return w.b
}

func decodeAccount(id int64, b []byte) (store.Account, error) {
	r := newReader(b)
	a := store.Account{
		ID:        id,
		JWK:       r.bytes(),
		KeyID:     r.str(),
		Status:    acme.Status(r.str()),
		Contact:   r.strs(),
		CreatedAt: r.time(),
		InitialIP: r.str(),
		EABKeyID:  r.str(),
	}
	return a, r.done()
}

func encodeOrder(o *store.Order) []byte {
	w := newWriter(96 + 32*len(o.Identifiers) + len(o.CSR))
	w.int(o.AccountID)
	w.idents(o.Identifiers)
	w.count(o.AuthzIDs == nil, len(o.AuthzIDs))
	for _, id := range o.AuthzIDs {
		w.int(id)
	}
	w.str(o.Profile)
	w.str(o.Replaces)
	w.time(o.Created)
	w.time(o.Expires)
	w.time(o.NotBefore)
	w.time(o.NotAfter)
	w.bool(o.BeganProcessing)
	w.problem(o.Error)
	w.str(o.CertSerial)
	w.bytes(o.CSR)
	return w.b
}

func decodeOrder(id int64, b []byte) (store.Order, error) {
	r := newReader(b)
	o := store.Order{
		ID:              id,
		AccountID:       r.int(),
		Identifiers:     r.idents(),
		AuthzIDs:        r.ints(),
		Profile:         r.str(),
		Replaces:        r.str(),
		Created:         r.time(),
		Expires:         r.time(),
		NotBefore:       r.time(),
		NotAfter:        r.time(),
		BeganProcessing: r.bool(),
		Error:           r.problem(),
		CertSerial:      r.str(),
	}
	if r.since(2) {
		o.CSR = r.bytes()
	}
	return o, r.done()
}

func encodeAuthz(a *store.Authorization) []byte {
	w := newWriter(64 + 80*len(a.Challenges))
	w.int(a.AccountID)
	w.ident(a.Identifier)
	w.bool(a.Wildcard)
	w.str(a.Profile)
	w.str(string(a.Status))
	w.time(a.Created)
	w.time(a.Expires)
	w.count(a.Challenges == nil, len(a.Challenges))
	for i := range a.Challenges {
		c := &a.Challenges[i]
		w.str(c.Type)
		w.str(c.Token)
		w.str(string(c.Status))
		w.time(c.Validated)
		w.problem(c.Error)
		w.str(c.AccountURI)
	}
	return w.b
}

func decodeAuthz(id int64, b []byte) (store.Authorization, error) {
	r := newReader(b)
	a := store.Authorization{
		ID:         id,
		AccountID:  r.int(),
		Identifier: r.ident(),
		Wildcard:   r.bool(),
		Profile:    r.str(),
		Status:     acme.Status(r.str()),
		Created:    r.time(),
		Expires:    r.time(),
	}
	n, isNil := r.count()
	if !isNil {
		a.Challenges = make([]store.Challenge, n)
		for i := range a.Challenges {
			a.Challenges[i] = store.Challenge{
				Type:      r.str(),
				Token:     r.str(),
				Status:    acme.Status(r.str()),
				Validated: r.time(),
				Error:     r.problem(),
			}
			if r.since(2) {
				a.Challenges[i].AccountURI = r.str()
			}
		}
	}
	return a, r.done()
}

func encodeCert(c *store.Certificate) []byte {
	w := newWriter(96 + len(c.DER) + 32*len(c.Identifiers))
	w.int(c.AccountID)
	w.int(c.OrderID)
	w.bytes(c.DER)
	w.str(c.IssuerID)
	w.int(int64(c.CRLShard))
	w.idents(c.Identifiers)
	w.time(c.Issued)
	w.time(c.Expires)
	w.str(c.KeyHash)
	w.bool(c.Revoked)
	w.time(c.RevokedAt)
	w.int(int64(c.Reason))
	w.int(c.ReplacementOrder)
	return w.b
}

func decodeCert(serial string, b []byte) (store.Certificate, error) {
	r := newReader(b)
	c := store.Certificate{
		Serial:           serial,
		AccountID:        r.int(),
		OrderID:          r.int(),
		DER:              r.bytes(),
		IssuerID:         r.str(),
		CRLShard:         int(r.int()),
		Identifiers:      r.idents(),
		Issued:           r.time(),
		Expires:          r.time(),
		KeyHash:          r.str(),
		Revoked:          r.bool(),
		RevokedAt:        r.time(),
		Reason:           int(r.int()),
		ReplacementOrder: r.int(),
	}
	return c, r.done()
}
