package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// BucketState is one non-full bucket as the management API shows it. Plain
// data.
type BucketState struct {
	// Limit is the limit's name, e.g. "NewOrdersPerAccount".
	Limit string `json:"limit"`
	// Key is the bucket key, e.g. "3:12345".
	Key string `json:"key"`
	// Remaining is how many requests the bucket allows now.
	Remaining int64 `json:"remaining"`
	// Burst is the bucket's capacity.
	Burst int64 `json:"burst"`
	// ResetAt is when the bucket is full again.
	ResetAt time.Time `json:"resetAt"`
	// RetryAt, when Remaining is 0, is when the next request is allowed.
	RetryAt *time.Time `json:"retryAt,omitempty"`
}

// Buckets returns every bucket that is not full, ordered by key. Buckets of
// a limit that is now disabled for their key are left out.
func (l *Limiter) Buckets(ctx context.Context) ([]BucketState, error) {
	now := l.clk.Now()
	stored, err := l.src.List(ctx, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("ratelimit: listing buckets: %w", err)
	}
	out := make([]BucketState, 0, len(stored))
	for _, b := range stored {
		if lim := l.limitOf(b.Key); lim != nil {
			out = append(out, bucketState(b.Key, lim, b.TAT, now))
		}
	}
	return out, nil
}

func bucketState(key string, lim *limit, tat int64, now time.Time) BucketState {
	s := BucketState{Limit: lim.name.String(), Key: key, Burst: lim.burst,
		Remaining: remainingAt(now.UnixNano(), lim, tat), ResetAt: time.Unix(0, tat).UTC()}
	if s.Remaining == 0 {
		at := time.Unix(0, tat-lim.offset+lim.ei).UTC()
		s.RetryAt = &at
	}
	return s
}

// parseKeyName splits a bucket key into its limit and the rest.
func parseKeyName(key string) (Name, string, bool) {
	prefix, rest, ok := strings.Cut(key, ":")
	n, err := strconv.Atoi(prefix)
	if !ok || err != nil || n <= 0 || n >= int(numNames) || rest == "" {
		return 0, "", false
	}
	return Name(n), rest, true
}

// limitOf returns the limit of a bucket key, or nil if the key names no
// enabled limit.
func (l *Limiter) limitOf(key string) *limit {
	name, rest, ok := parseKeyName(key)
	if !ok {
		return nil
	}
	overrideKey := key
	if name.perIdentifier() {
		acct, _, ok := strings.Cut(rest, ":")
		if !ok {
			return nil
		}
		overrideKey = name.prefix() + acct
	}
	return l.reg.lookup(name, overrideKey)
}

// Reset deletes buckets, making them full: the one with key, or every
// bucket when key is "". It returns how many it deleted.
func (l *Limiter) Reset(ctx context.Context, key string) (int, error) {
	keys := []string{key}
	if key == "" {
		all, err := l.src.List(ctx, math.MinInt64)
		if err != nil {
			return 0, fmt.Errorf("ratelimit: listing buckets: %w", err)
		}
		keys = keys[:0]
		for _, b := range all {
			keys = append(keys, b.Key)
		}
	} else {
		var tat [1]int64
		if err := l.src.Get(ctx, keys, tat[:]); err != nil {
			return 0, fmt.Errorf("ratelimit: reading bucket: %w", err)
		}
		if tat[0] == 0 {
			return 0, nil
		}
	}
	if err := l.src.Delete(context.WithoutCancel(ctx), keys); err != nil {
		return 0, fmt.Errorf("ratelimit: deleting buckets: %w", err)
	}
	return len(keys), nil
}

// Exhaust spends a bucket's whole burst, so that the next request is denied
// with the limit's 429 (or, for the consecutive-failures limit, the next
// failed authorization pauses). id is the full bucket key ("3:12345") or
// what follows "<enum>:" in it; for convenience a DNS name or IP address
// is turned into its registered domain or range for CertificatesPerDomain,
// an IPv6 address into its /48 for NewRegistrationsPerIPv6Range, and a
// comma-separated identifier list into its hash for CertificatesPerFQDNSet.
func (l *Limiter) Exhaust(ctx context.Context, name Name, id string) (BucketState, error) {
	key, err := bucketKey(name, id)
	if err != nil {
		return BucketState{}, err
	}
	lim := l.limitOf(key)
	if lim == nil {
		return BucketState{}, fmt.Errorf("%s is disabled for bucket %q (preset off and no override)", name, key)
	}
	tat, err := l.exhaust(ctx, key, lim)
	if err != nil {
		return BucketState{}, err
	}
	return bucketState(key, lim, tat, l.clk.Now()), nil
}

// bucketKey builds the bucket key of limit name for a user-given id.
func bucketKey(name Name, id string) (string, error) {
	if name <= 0 || name >= numNames {
		return "", fmt.Errorf("unknown limit (want one of %s)", nameList())
	}
	id = strings.TrimPrefix(strings.TrimSpace(id), name.prefix())
	if id == "" {
		return "", errors.New("key must not be empty")
	}
	switch {
	case name.perIdentifier():
		acct, ident, ok := strings.Cut(id, ":")
		if _, err := strconv.ParseInt(acct, 10, 64); !ok || err != nil || ident == "" {
			return "", fmt.Errorf("%s keys are <account>:<identifier>, got %q", name, id)
		}
		return name.prefix() + strings.ToLower(id), nil
	case name == CertificatesPerDomain:
		if p, err := netip.ParsePrefix(id); err == nil {
			return name.prefix() + p.Masked().String(), nil
		}
		return name.prefix() + covering(identifierOf(id)), nil
	case name == CertificatesPerFQDNSet && !isHexHash(id):
		return overrideKey(name, id)
	case name == NewRegistrationsPerIPv6Range:
		if ip, err := netip.ParseAddr(id); err == nil && ip.Is6() {
			p, _ := ip.Prefix(48)
			return name.prefix() + p.String(), nil
		}
	case name == CertificatesPerFQDNSet:
		return name.prefix() + strings.ToLower(id), nil
	}
	return overrideKey(name, id)
}

// identifierOf guesses the type of an identifier value.
func identifierOf(v string) acme.Identifier {
	if _, err := netip.ParseAddr(v); err == nil {
		return acme.Identifier{Type: acme.TypeIP, Value: v}
	}
	return acme.Identifier{Type: acme.TypeDNS, Value: strings.ToLower(v)}
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// PauseIdentifiers pauses ids for the account now, as an administrator
// would (Boulder's admin tool): the 14-day grace still applies. It returns
// what happened to each.
func (l *Limiter) PauseIdentifiers(ctx context.Context, account int64, ids []acme.Identifier) ([]PauseResult, error) {
	out := make([]PauseResult, 0, len(ids))
	for _, id := range normalize(ids) {
		r, err := l.pauses.Pause(ctx, account, id, l.clk.Now())
		if err != nil {
			return out, fmt.Errorf("ratelimit: pausing %s: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}
