package ca

import (
	"fmt"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// next is the authorization and challenge state machine (RFC 8555 §7.1.6).
// "processing" is fakeca's internal mark for a challenge being validated;
// it is rendered as "pending", as Boulder shows it.
var next = map[acme.Status][]acme.Status{
	acme.StatusPending:    {acme.StatusProcessing, acme.StatusValid, acme.StatusInvalid, acme.StatusDeactivated},
	acme.StatusProcessing: {acme.StatusValid, acme.StatusInvalid, acme.StatusDeactivated},
	acme.StatusValid:      {acme.StatusDeactivated, acme.StatusRevoked},
}

// transition checks that an authorization or challenge may move from one
// status to another.
func transition(from, to acme.Status) error {
	for _, s := range next[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("illegal status transition %s → %s", from, to)
}

// authzStatus is the status an authorization shows at now: a pending or
// valid authorization past its expiry is expired.
func authzStatus(a store.Authorization, now time.Time) acme.Status {
	switch a.Status {
	case acme.StatusPending, acme.StatusValid:
		if !now.Before(a.Expires) {
			return acme.StatusExpired
		}
	}
	return a.Status
}

// orderStatus derives an order's status from the order, its
// authorizations and the time, as Boulder's statusForOrder does
// (reference §8): an error or expiry makes it invalid (even a valid one),
// then any unusable authorization, then any pending one; a certificate
// makes it valid; begun finalization is processing; else ready.
func orderStatus(o store.Order, authzs []store.Authorization, now time.Time) acme.Status {
	if o.Error != nil || !now.Before(o.Expires) {
		return acme.StatusInvalid
	}
	pending := false
	for _, a := range authzs {
		switch authzStatus(a, now) {
		case acme.StatusInvalid, acme.StatusDeactivated, acme.StatusRevoked, acme.StatusExpired:
			return acme.StatusInvalid
		case acme.StatusPending:
			pending = true
		}
	}
	switch {
	case pending:
		return acme.StatusPending
	case o.CertSerial != "":
		return acme.StatusValid
	case o.BeganProcessing:
		return acme.StatusProcessing
	}
	return acme.StatusReady
}
