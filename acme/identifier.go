package acme

import "strings"

// IdentifierType is the type of an ACME identifier (RFC 8555 §9.7.7, RFC 8738).
type IdentifierType string

// The identifier types fakeca understands.
const (
	TypeDNS IdentifierType = "dns"
	TypeIP  IdentifierType = "ip"
)

// Identifier is an ACME identifier. The zero value is not a valid identifier.
// Values are plain data and safe to copy.
type Identifier struct {
	Type  IdentifierType `json:"type"`
	Value string         `json:"value"`
}

// IsWildcard reports whether the identifier is a DNS wildcard ("*.example.com").
func (id Identifier) IsWildcard() bool {
	return id.Type == TypeDNS && strings.HasPrefix(id.Value, "*.")
}

// Base returns the identifier with a leading "*." removed, as shown in an
// authorization object.
func (id Identifier) Base() Identifier {
	if id.IsWildcard() {
		id.Value = id.Value[2:]
	}
	return id
}

// String renders the identifier as "type:value" for logs.
func (id Identifier) String() string { return string(id.Type) + ":" + id.Value }
