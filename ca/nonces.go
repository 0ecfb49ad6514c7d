package ca

import (
	"container/heap"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Nonce layout (reference §8, Boulder's nonce service): an 8-character
// prefix naming this server instance, then base64url of 32 bytes — an
// 8-byte counter and a 24-byte HMAC of it — 51 characters in all. Validity
// is by consumption, not time: each of nonceShards shards remembers up to
// maxUsedPerShard redeemed counters; when full, the lowest is forgotten and
// becomes the shard's floor, below which every nonce is stale. A restart
// makes a new key and prefix, so old nonces are rejected, as at Boulder.
const (
	nonceShards      = 16
	maxUsedPerShard  = 65536 / nonceShards
	noncePrefixLen   = 8
	nonceBodyBytes   = 32
	nonceCounterSize = 8
)

// nonces issues and redeems anti-replay nonces. Safe for concurrent use;
// each shard has its own lock and no goroutine holds two.
type nonces struct {
	prefix  string
	key     [32]byte
	counter atomic.Uint64
	shards  [nonceShards]nonceShard
}

type nonceShard struct {
	mu    sync.Mutex
	floor uint64 // counters <= floor are stale
	used  map[uint64]struct{}
	order counterHeap
}

func newNonces() (*nonces, error) {
	n := &nonces{}
	if _, err := rand.Read(n.key[:]); err != nil {
		return nil, err
	}
	var p [6]byte
	if _, err := rand.Read(p[:]); err != nil {
		return nil, err
	}
	n.prefix = base64.RawURLEncoding.EncodeToString(p[:])
	for i := range n.shards {
		n.shards[i].used = make(map[uint64]struct{})
	}
	return n, nil
}

// issue returns a fresh nonce.
func (n *nonces) issue() string {
	c := n.counter.Add(1)
	var body [nonceBodyBytes]byte
	binary.BigEndian.PutUint64(body[:nonceCounterSize], c)
	copy(body[nonceCounterSize:], n.mac(c))
	return n.prefix + base64.RawURLEncoding.EncodeToString(body[:])
}

func (n *nonces) mac(c uint64) []byte {
	h := hmac.New(sha256.New, n.key[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c)
	h.Write(b[:])
	return h.Sum(nil)[:nonceBodyBytes-nonceCounterSize]
}

// redeem reports whether nonce was issued here and not redeemed before,
// and marks it used.
func (n *nonces) redeem(nonce string) bool {
	if len(nonce) != noncePrefixLen+43 || nonce[:noncePrefixLen] != n.prefix {
		return false
	}
	body, err := base64.RawURLEncoding.DecodeString(nonce[noncePrefixLen:])
	if err != nil || len(body) != nonceBodyBytes {
		return false
	}
	c := binary.BigEndian.Uint64(body[:nonceCounterSize])
	if c == 0 || c > n.counter.Load() || !hmac.Equal(body[nonceCounterSize:], n.mac(c)) {
		return false
	}
	s := &n.shards[c%nonceShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if c <= s.floor {
		return false
	}
	if _, seen := s.used[c]; seen {
		return false
	}
	s.used[c] = struct{}{}
	heap.Push(&s.order, c)
	if len(s.order) > maxUsedPerShard {
		low := heap.Pop(&s.order).(uint64)
		delete(s.used, low)
		s.floor = low
	}
	return true
}

// counterHeap is a min-heap of redeemed counters.
type counterHeap []uint64

func (h counterHeap) Len() int           { return len(h) }
func (h counterHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h counterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *counterHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *counterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
