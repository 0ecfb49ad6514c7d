package faults

import (
	"net/http"
	"strings"
)

// Operation is an ACME operation a rule can match: one per endpoint of the
// ACME listener, plus the two asynchronous steps (validation and issuance)
// that no client request drives directly. Typed string; the zero value
// means "not an ACME operation" and matches no rule.
//
// When an operation is added: give it a bit in index, list it in
// operationNames, say in operationMask whether it is a request, and tell
// the integrator (ca's opOf) which route maps to it.
type Operation string

// The operations fakeca knows, in the order of RFC 8555 §7.
const (
	OpDirectory   Operation = "directory"
	OpNewNonce    Operation = "new-nonce"
	OpNewAccount  Operation = "new-account"
	OpAccount     Operation = "account"
	OpNewOrder    Operation = "new-order"
	OpOrder       Operation = "order"
	OpAuthz       Operation = "authz"
	OpChallenge   Operation = "challenge"
	OpFinalize    Operation = "finalize"
	OpCertificate Operation = "certificate"
	OpRevoke      Operation = "revoke"
	OpKeyChange   Operation = "key-change"
	OpRenewalInfo Operation = "renewal-info"
	// OpListOrders is an account's orders list (RFC 8555 §7.1.2.1), served
	// only when ca.Config.OrdersPerPage is set.
	OpListOrders Operation = "list-orders"
	// OpValidation is the asynchronous validation of a challenge, after the
	// client's POST to it has been answered.
	OpValidation Operation = "validation"
	// OpIssuance is the asynchronous signing step after finalize has
	// answered "processing".
	OpIssuance Operation = "issuance"
)

// index returns the operation's bit number, or -1 for an unknown one.
func (o Operation) index() int {
	switch o {
	case OpDirectory:
		return 0
	case OpNewNonce:
		return 1
	case OpNewAccount:
		return 2
	case OpAccount:
		return 3
	case OpNewOrder:
		return 4
	case OpOrder:
		return 5
	case OpAuthz:
		return 6
	case OpChallenge:
		return 7
	case OpFinalize:
		return 8
	case OpCertificate:
		return 9
	case OpRevoke:
		return 10
	case OpKeyChange:
		return 11
	case OpRenewalInfo:
		return 12
	case OpListOrders:
		return 13
	case OpValidation:
		return 14
	case OpIssuance:
		return 15
	}
	return -1
}

// opMask is a set of operations, one bit per Operation.index.
type opMask uint32

// bit returns the set holding only o (empty for an unknown operation).
func (o Operation) bit() opMask {
	if i := o.index(); i >= 0 {
		return 1 << i
	}
	return 0
}

// Masks of operation classes.
const (
	maskValidation = opMask(1) << 14
	maskIssuance   = opMask(1) << 15
	maskAsync      = maskValidation | maskIssuance
	maskRequests   = opMask(1)<<14 - 1 // every HTTP operation
)

// operationNames lists every operation, for error messages.
func operationNames() []Operation {
	return []Operation{OpDirectory, OpNewNonce, OpNewAccount, OpAccount, OpNewOrder, OpOrder, OpAuthz,
		OpChallenge, OpFinalize, OpCertificate, OpRevoke, OpKeyChange, OpRenewalInfo, OpListOrders, OpValidation,
		OpIssuance}
}

// JWSOperations returns the operations whose requests are JWS-signed POSTs
// carrying a nonce: where a client can meet badNonce.
func JWSOperations() []Operation {
	return []Operation{OpNewAccount, OpAccount, OpNewOrder, OpOrder, OpAuthz, OpChallenge, OpFinalize,
		OpCertificate, OpRevoke, OpKeyChange, OpListOrders}
}

func joinOps(ops []Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// validMethod reports whether m is a method the ACME listener answers.
func validMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodPost
}
