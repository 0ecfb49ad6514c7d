package ca

import (
	"encoding/json"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// Wire types: the JSON objects of RFC 8555 §7.1 as Boulder renders them.
// They are built from store values by the render* functions and never kept.

type accountJSON struct {
	Key       json.RawMessage `json:"key"`
	Contact   []string        `json:"contact,omitempty"`
	InitialIP string          `json:"initialIp,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	Status    acme.Status     `json:"status"`
	// Orders is the orders list URL, only with Config.OrdersPerPage.
	Orders string `json:"orders,omitempty"`
}

// ordersJSON is one page of an account's orders list (RFC 8555 §7.1.2.1).
type ordersJSON struct {
	Orders []string `json:"orders"`
}

type orderJSON struct {
	Status         acme.Status       `json:"status"`
	Expires        time.Time         `json:"expires"`
	Identifiers    []acme.Identifier `json:"identifiers"`
	NotBefore      *time.Time        `json:"notBefore,omitempty"`
	NotAfter       *time.Time        `json:"notAfter,omitempty"`
	Profile        string            `json:"profile,omitempty"`
	Replaces       string            `json:"replaces,omitempty"`
	Authorizations []string          `json:"authorizations"`
	Finalize       string            `json:"finalize"`
	Certificate    string            `json:"certificate,omitempty"`
	Error          *problemJSON      `json:"error,omitempty"`
}

type authzJSON struct {
	Identifier acme.Identifier `json:"identifier"`
	Status     acme.Status     `json:"status"`
	Expires    time.Time       `json:"expires"`
	Challenges []challengeJSON `json:"challenges"`
	Wildcard   bool            `json:"wildcard,omitempty"`
}

type challengeJSON struct {
	Type      string       `json:"type"`
	URL       string       `json:"url"`
	Status    acme.Status  `json:"status"`
	Validated *time.Time   `json:"validated,omitempty"`
	Error     *problemJSON `json:"error,omitempty"`
	Token     string       `json:"token,omitempty"`
	// dns-persist-01 (draft-ietf-acme-dns-persist) has no token; it names
	// the account and the issuer domains the TXT record must list.
	AccountURI        string   `json:"accounturi,omitempty"`
	IssuerDomainNames []string `json:"issuer-domain-names,omitempty"`
}

type directoryJSON struct {
	NewNonce    string   `json:"newNonce"`
	NewAccount  string   `json:"newAccount"`
	NewOrder    string   `json:"newOrder"`
	RevokeCert  string   `json:"revokeCert"`
	KeyChange   string   `json:"keyChange"`
	RenewalInfo string   `json:"renewalInfo"`
	Meta        metaJSON `json:"meta"`
}

type metaJSON struct {
	TermsOfService          string            `json:"termsOfService,omitempty"`
	Website                 string            `json:"website,omitempty"`
	CAAIdentities           []string          `json:"caaIdentities,omitempty"`
	Profiles                map[string]string `json:"profiles,omitempty"`
	ExternalAccountRequired bool              `json:"externalAccountRequired,omitempty"`
}

// Request payloads.

type newAccountRequest struct {
	Contact                []string        `json:"contact"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
}

type accountUpdateRequest struct {
	Contact *[]string   `json:"contact"`
	Status  acme.Status `json:"status"`
}

type newOrderRequest struct {
	Identifiers []acme.Identifier `json:"identifiers"`
	NotBefore   string            `json:"notBefore"`
	NotAfter    string            `json:"notAfter"`
	Profile     string            `json:"profile"`
	Replaces    string            `json:"replaces"`
}

type finalizeRequest struct {
	CSR string `json:"csr"`
}

type authzUpdateRequest struct {
	Status acme.Status `json:"status"`
}

type revokeRequest struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason"`
}

type keyChangeRequest struct {
	Account string          `json:"account"`
	OldKey  json.RawMessage `json:"oldKey"`
}

type renewalInfoJSON struct {
	SuggestedWindow struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"suggestedWindow"`
	ExplanationURL string `json:"explanationURL,omitempty"`
}
