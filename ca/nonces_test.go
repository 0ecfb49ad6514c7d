package ca

import "testing"

// TestNonceWindow: validity is by consumption (reference §8): once a shard
// has remembered maxUsedPerShard redeemed nonces, older ones are stale even
// if never used.
func TestNonceWindow(t *testing.T) {
	t.Parallel()
	n, err := newNonces()
	if err != nil {
		t.Fatal(err)
	}
	unused := n.issue() // counter 1, shard 1
	if len(unused) != 51 || unused[:noncePrefixLen] != n.prefix {
		t.Fatalf("nonce %q: want 51 characters starting with the instance prefix %q", unused, n.prefix)
	}
	// Fill shard 1 past its window, jumping the counter so that every
	// nonce lands in it.
	for k := uint64(1); k <= maxUsedPerShard+1; k++ {
		n.counter.Store(k * nonceShards) // the next issue is k*16+1
		if !n.redeem(n.issue()) {
			t.Fatalf("fresh nonce %d refused", k)
		}
	}
	if n.redeem(unused) {
		t.Error("a never-used nonce below its shard's floor was accepted")
	}
	fresh := n.issue()
	if !n.redeem(fresh) || n.redeem(fresh) {
		t.Error("a fresh nonce must redeem exactly once")
	}
	tampered := []byte(n.issue())
	i := len(tampered) - 10 // a character inside the MAC
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	if n.redeem(string(tampered)) {
		t.Error("nonce with a bad MAC accepted")
	}
}
