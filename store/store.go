package store

import (
	"context"
	"errors"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Sentinel errors returned by every backend.
var (
	// ErrNotFound means no object has the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique key (an account key, a certificate serial)
	// is already taken.
	ErrConflict = errors.New("store: conflict")
)

// Store is fakeca's state. Contract, for every implementation:
//   - safe for concurrent use; no operation takes a store-wide lock that
//     would serialise unrelated accounts or orders;
//   - values in, values out: nothing returned aliases store memory, and
//     nothing passed in is retained;
//   - Update* run mutate on a fresh copy inside one transaction: if it
//     returns an error nothing is written and that error is returned; the
//     mutator must not block or call back into the store, and may be run
//     more than once (a retried transaction), so it must be a pure function
//     of its argument; a mutator that changes the object's ID or serial is
//     an error and nothing is written;
//   - a missing object yields an error matching ErrNotFound;
//   - operations honour ctx cancellation where they may block.
type Store interface {
	// CreateAccount stores a new account, assigns its ID and returns it.
	// ErrConflict if an account with the same KeyID exists.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	GetAccount(ctx context.Context, id int64) (Account, error)
	GetAccountByKeyID(ctx context.Context, keyID string) (Account, error)
	// UpdateAccount applies mutate; changing KeyID re-indexes the account
	// and fails with ErrConflict if the new key belongs to another account.
	UpdateAccount(ctx context.Context, id int64, mutate func(*Account) error) (Account, error)

	// CreateOrder stores a new order together with its new authorizations,
	// assigning IDs to both. The order's AuthzIDs must already list the IDs
	// of reused authorizations (ErrNotFound if one does not exist); new ones
	// are appended in the given order.
	CreateOrder(ctx context.Context, o Order, newAuthzs []Authorization) (Order, error)
	GetOrder(ctx context.Context, id int64) (Order, error)
	UpdateOrder(ctx context.Context, id int64, mutate func(*Order) error) (Order, error)
	// AccountOrders returns every order of the account, in ID order (the
	// order they were created in), whatever their state: the RFC 8555
	// §7.1.2.1 orders list before ca filters and pages it. An account
	// with no orders, or no account, yields an empty list, not
	// ErrNotFound. Backends keep an account → orders index maintained with
	// every write, so the cost follows the account's orders, not all of
	// them.
	AccountOrders(ctx context.Context, accountID int64) ([]Order, error)
	// FindReusableOrder returns the newest (highest ID) order with the key
	// whose Expires is after now and that has not begun processing, or
	// ErrNotFound. Backends may forget expired orders: now never goes back.
	FindReusableOrder(ctx context.Context, key OrderKey, now time.Time) (Order, error)

	GetAuthz(ctx context.Context, id int64) (Authorization, error)
	// GetAuthzs returns the authorizations with the given IDs, in order; it
	// fails as a whole (ErrNotFound) if any is missing.
	GetAuthzs(ctx context.Context, ids []int64) ([]Authorization, error)
	UpdateAuthz(ctx context.Context, id int64, mutate func(*Authorization) error) (Authorization, error)
	// FindValidAuthz returns the valid authorization with the key that
	// expires last, if it expires after minExpiry; otherwise ErrNotFound.
	// Callers pass minExpiry >= now, so backends may forget expired ones.
	FindValidAuthz(ctx context.Context, key AuthzKey, minExpiry time.Time) (Authorization, error)

	// AddCertificate stores an issued certificate; ErrConflict on a serial
	// that exists.
	AddCertificate(ctx context.Context, c Certificate) error
	GetCertificate(ctx context.Context, serial string) (Certificate, error)
	UpdateCertificate(ctx context.Context, serial string, mutate func(*Certificate) error) (Certificate, error)
	// RevokedCertificates returns the revoked certificates of one issuer's
	// CRL shard that expire after expiresAfter, in serial order: what a CRL
	// for that shard lists.
	RevokedCertificates(ctx context.Context, issuerID string, shard int, expiresAfter time.Time) ([]Certificate, error)

	// Unfinished returns the work the CA acknowledged and has not finished,
	// each list in ID order: the orders for which Order.Unfinished holds
	// (issuance began, no certificate, no error) and the authorizations for
	// which Authorization.Unfinished holds (pending, a challenge being
	// validated). A CA calls it at start to resume what a restart
	// interrupted. Backends keep these in an index maintained with every
	// write, so the cost follows the unfinished objects, not all of them.
	Unfinished(ctx context.Context) (orders []Order, authzs []Authorization, err error)

	// BlockKey adds a SubjectPublicKeyInfo hash to the blocked-key list.
	BlockKey(ctx context.Context, keyHash string) error
	// KeyBlocked reports whether the hash is on the blocked-key list.
	KeyBlocked(ctx context.Context, keyHash string) (bool, error)
}

// Unfinished reports whether the order's issuance began and has no outcome
// yet: BeganProcessing, no CertSerial and no Error.
func (o *Order) Unfinished() bool {
	return o.BeganProcessing && o.CertSerial == "" && o.Error == nil
}

// Unfinished reports whether a validation of the authorization began and
// has no outcome yet: it is pending and one of its challenges is
// processing. (A processing challenge of an authorization deactivated
// meanwhile has nothing left to decide.)
func (a *Authorization) Unfinished() bool {
	if a.Status != acme.StatusPending {
		return false
	}
	for i := range a.Challenges {
		if a.Challenges[i].Status == acme.StatusProcessing {
			return true
		}
	}
	return false
}
