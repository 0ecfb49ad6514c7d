package policy

import "math/big"

// rocaGenerator and rocaPrimeLimit describe the ROCA fingerprint (Nemec et
// al., "The Return of Coppersmith's Attack", CCS 2017). Infineon's library
// built primes as k·M + (65537^a mod M), M a primorial, so for every small
// odd prime r dividing M, N mod r lies in the subgroup of (Z/rZ)* generated
// by 65537. The published detector tests the odd primes up to 167, which
// divide M at every key size; a random modulus passes all of them with
// negligible probability.
const (
	rocaGenerator  = 65537
	rocaPrimeLimit = 168
)

// rocaFingerprint reports whether n carries the ROCA fingerprint.
func rocaFingerprint(n *big.Int) bool {
	rem := new(big.Int)
	for _, r := range primesBelow(rocaPrimeLimit)[1:] { // skip 2
		x := rem.Mod(n, big.NewInt(r)).Int64()
		if !inSubgroup(x, rocaGenerator%r, r) {
			return false
		}
	}
	return true
}

// inSubgroup reports whether x is a power of g modulo the prime r.
func inSubgroup(x, g, r int64) bool {
	v := int64(1)
	for {
		if v == x {
			return true
		}
		v = v * g % r
		if v == 1 {
			return false
		}
	}
}
