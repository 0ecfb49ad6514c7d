package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// AddCertificate stores an issued certificate under its serial; ErrConflict
// if the serial is taken, in which case the stored certificate is kept.
func (m *Memory) AddCertificate(ctx context.Context, c Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !m.certs.insert(strHash(c.Serial), c.Serial, cloneCert(c)) {
		return fmt.Errorf("certificate %s: %w", c.Serial, ErrConflict)
	}
	if c.Revoked {
		m.indexRevoked(c)
	}
	return nil
}

// GetCertificate returns the certificate with the serial.
func (m *Memory) GetCertificate(ctx context.Context, serial string) (Certificate, error) {
	if err := ctx.Err(); err != nil {
		return Certificate{}, err
	}
	c, _, ok := m.certs.load(strHash(serial), serial)
	if !ok {
		return Certificate{}, fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	return cloneCert(c), nil
}

// UpdateCertificate applies mutate to the certificate under its shard's
// write lock. The serial is the certificate's key: a mutator that changes it
// gets an error and nothing is written.
func (m *Memory) UpdateCertificate(ctx context.Context, serial string, mutate func(*Certificate) error) (Certificate, error) {
	if err := ctx.Err(); err != nil {
		return Certificate{}, err
	}
	c, err := updateKeyed(&m.certs, strHash(serial), serial, "certificate", cloneCert,
		func(c *Certificate) string { return c.Serial }, mutate)
	if err != nil {
		return Certificate{}, err
	}
	if c.cur.Revoked {
		m.indexRevoked(c.cur)
	}
	return c.cur, nil
}

func shardKey(issuerID string, shard int) string { return issuerID + "/" + strconv.Itoa(shard) }

// indexRevoked files a revoked certificate under its CRL shard. It takes
// one revoked-index shard lock, after the certificate's lock is released.
func (m *Memory) indexRevoked(c Certificate) {
	k := shardKey(c.IssuerID, c.CRLShard)
	s := &m.revoked[strHash(k)%nShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]map[string]struct{})
	}
	if s.m[k] == nil {
		s.m[k] = make(map[string]struct{})
	}
	s.m[k][c.Serial] = struct{}{}
}

// RevokedCertificates returns the shard's revoked certificates that expire
// after expiresAfter, sorted by serial.
func (m *Memory) RevokedCertificates(ctx context.Context, issuerID string, shard int, expiresAfter time.Time) ([]Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := shardKey(issuerID, shard)
	s := &m.revoked[strHash(k)%nShards]
	s.mu.RLock()
	serials := make([]string, 0, len(s.m[k]))
	for serial := range s.m[k] {
		serials = append(serials, serial)
	}
	s.mu.RUnlock()
	sort.Strings(serials)
	out := make([]Certificate, 0, len(serials))
	for _, serial := range serials {
		c, _, ok := m.certs.load(strHash(serial), serial)
		if ok && c.Revoked && c.Expires.After(expiresAfter) {
			out = append(out, cloneCert(c))
		}
	}
	return out, nil
}
