package store

import (
	"context"
	"fmt"
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
	c, ok, err := m.certs.update(strHash(serial), serial, cloneCert, func(c *Certificate) error {
		if err := mutate(c); err != nil {
			return err
		}
		if c.Serial != serial {
			return errIDChanged("certificate", serial, c.Serial)
		}
		return nil
	}, nil)
	switch {
	case !ok:
		return Certificate{}, fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	case err != nil:
		return Certificate{}, err
	}
	return c.cur, nil
}
