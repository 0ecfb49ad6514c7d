package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"

	"github.com/fakeca/fakeca/store"
)

// Unfinished returns the unfinished orders and authorizations, in ID
// order, read from the unfinished indexes in one transaction: a consistent
// snapshot.
func (s *Store) Unfinished(ctx context.Context) ([]store.Order, []store.Authorization, error) {
	var (
		orders []store.Order
		authzs []store.Authorization
	)
	err := s.read(ctx, func(tx *bbolt.Tx) error {
		orders, authzs = nil, nil
		if err := bucket(tx, bucketUnfinishedOrders).ForEach(func(k, _ []byte) error {
			o, err := getOrder(tx, idAt(k))
			orders = append(orders, o)
			return err
		}); err != nil {
			return err
		}
		return bucket(tx, bucketUnfinishedAuthzs).ForEach(func(k, _ []byte) error {
			a, err := getAuthz(tx, idAt(k))
			authzs = append(authzs, a)
			return err
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return orders, authzs, nil
}
