package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/store"
)

// AddCertificate stores an issued certificate under its serial; ErrConflict
// if the serial is taken, in which case the stored certificate is kept. A
// certificate stored revoked is listed for its CRL shard at once.
func (s *Store) AddCertificate(ctx context.Context, c store.Certificate) error {
	return s.write(ctx, func(tx *bbolt.Tx) error {
		certs := bucket(tx, bucketCerts)
		if certs.Get(strKey(c.Serial)) != nil {
			return fmt.Errorf("certificate %s: %w", c.Serial, store.ErrConflict)
		}
		return putCert(tx, nil, &c)
	})
}

// putCert writes cur, whose previous state is old (nil for a new
// certificate), and updates the revoked index.
func putCert(tx *bbolt.Tx, old, cur *store.Certificate) error {
	if err := bucket(tx, bucketCerts).Put(strKey(cur.Serial), encodeCert(cur)); err != nil {
		return err
	}
	var was entry
	if old != nil {
		was = revokedEntry(old)
	}
	_, err := reindex(bucket(tx, bucketRevoked), was, revokedEntry(cur))
	return err
}

// GetCertificate returns the certificate with the serial.
func (s *Store) GetCertificate(ctx context.Context, serial string) (store.Certificate, error) {
	var out store.Certificate
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = getCert(tx, serial)
		return err
	})
	return out, err
}

func getCert(tx *bbolt.Tx, serial string) (store.Certificate, error) {
	v := bucket(tx, bucketCerts).Get(strKey(serial))
	if v == nil {
		return store.Certificate{}, notFound("certificate", serial)
	}
	c, err := decodeCert(serial, v)
	if err != nil {
		return store.Certificate{}, corrupt("certificate", serial, err)
	}
	return c, nil
}

// UpdateCertificate applies mutate to the certificate in one transaction,
// which also lists it for its CRL shard while it is revoked. The serial is
// the certificate's key: a mutator that changes it gets an error and
// nothing is written.
func (s *Store) UpdateCertificate(ctx context.Context, serial string, mutate func(*store.Certificate) error) (store.Certificate, error) {
	var out store.Certificate
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		old, err := getCert(tx, serial)
		if err != nil {
			return err
		}
		cur, _ := getCert(tx, serial)
		if err := mutate(&cur); err != nil {
			return err
		}
		if cur.Serial != serial {
			return errIDChanged("certificate", serial, cur.Serial)
		}
		out = cur
		return putCert(tx, &old, &cur)
	})
	if err != nil {
		return store.Certificate{}, err
	}
	return out, nil
}

// RevokedCertificates returns the shard's revoked certificates that expire
// after expiresAfter, sorted by serial, read in one transaction.
func (s *Store) RevokedCertificates(ctx context.Context, issuerID string, shard int, expiresAfter time.Time) ([]store.Certificate, error) {
	out := []store.Certificate{}
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		prefix := revokedPrefix(issuerID, shard)
		c := bucket(tx, bucketRevoked).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			serial := string(k[len(prefix):])
			cert, err := getCert(tx, serial)
			if err != nil {
				return err
			}
			if cert.Revoked && cert.Expires.After(expiresAfter) {
				out = append(out, cert)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
