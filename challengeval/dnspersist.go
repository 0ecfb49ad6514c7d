package challengeval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/fakeca/fakeca/acme"
)

// dns-persist-01 (draft-ietf-acme-dns-persist) names and Boulder's texts
// (va/dns_persist.go), verbatim.
const (
	// persistPrefix is the label under which dns-persist-01 records live.
	persistPrefix = "_validation-persist"

	persistNotDNS        = "Identifier type for DNS-PERSIST-01 challenge was not DNS"
	persistLookupFormat  = "Retrieving TXT records for DNS-PERSIST-01 challenge: %s"
	persistNoTXT         = "No TXT record found for DNS-PERSIST-01 challenge"
	persistNoValid       = "No valid TXT record found for DNS-PERSIST-01 challenge"
	persistSyntaxFormat  = "Parsing DNS-PERSIST-01 challenge TXT record with issuer-domain-name %q: %s"
	persistCheckFormat   = "Checking DNS-PERSIST-01 challenge TXT record with issuer-domain-name %q: %s"
	persistErrorsJoin    = "; "
	persistAccountFormat = "accounturi mismatch: expected %q, got %q"
	persistPolicyFormat  = "policy mismatch: expected \"wildcard\", got %q"
	persistUntilFormat   = "validation time %s is after persistUntil %s"

	// Record syntax errors (reported only for records naming this CA).
	persistEmptyIssuer      = "empty issuer-domain-name"
	persistBadIssuerFormat  = "malformed issuer-domain-name %q: %v"
	persistEmptyParam       = "empty parameter or trailing semicolon provided"
	persistNotTagValue      = "malformed parameter %q should be tag=value pair"
	persistEmptyTag         = "malformed parameter %q, empty tag"
	persistBadValueFormat   = "malformed value %q for tag %q"
	persistDuplicateFormat  = "duplicate parameter %q"
	persistEmptyAccountURI  = "empty value provided for mandatory accounturi"
	persistBadUntilFormat   = "malformed persistUntil timestamp %q"
	persistMissingAccount   = "missing mandatory accounturi parameter"
	persistWildcardPolicy   = "wildcard"
	maxIssuerDomainNameSize = 253
)

// persistRecord is one parsed dns-persist-01 issue-value.
type persistRecord struct {
	issuer       string // normalized issuer-domain-name
	accountURI   string
	policy       string
	persistUntil time.Time // zero: no limit
}

// validateDNSPersist01 looks for a record at _validation-persist.<name> that
// names one of the CA's issuer domain names and authorizes accountURI.
func (v *Validator) validateDNSPersist01(ctx context.Context, id acme.Identifier, accountURI string, wildcard bool) error {
	if id.Type != acme.TypeDNS {
		return acme.New(acme.Malformed, persistNotDNS)
	}
	txts, err := v.lookupTXT(ctx, persistPrefix+"."+baseName(id))
	if err != nil {
		e, _ := acme.As(err)
		return acme.New(e.Type, persistLookupFormat, e.Detail)
	}
	if len(txts) == 0 {
		return acme.New(acme.Unauthorized, persistNoTXT)
	}
	now := v.clock.Now().UTC()
	var syntaxErrs, authzErrs []string
	for _, txt := range txts {
		rec, err := parsePersistRecord(txt)
		if !slices.Contains(v.cfg.CAAIdentities, rec.issuer) {
			continue // malformed, or for another CA
		}
		if err != nil {
			syntaxErrs = append(syntaxErrs, fmt.Sprintf(persistSyntaxFormat, rec.issuer, err))
			continue
		}
		if err := rec.authorizes(accountURI, wildcard, now); err != nil {
			authzErrs = append(authzErrs, fmt.Sprintf(persistCheckFormat, rec.issuer, err))
			continue
		}
		return nil
	}
	switch {
	case len(syntaxErrs) > 0:
		return acme.New(acme.Malformed, "%s", strings.Join(syntaxErrs, persistErrorsJoin))
	case len(authzErrs) > 0:
		return acme.New(acme.Unauthorized, "%s", strings.Join(authzErrs, persistErrorsJoin))
	}
	return acme.New(acme.Unauthorized, persistNoValid)
}

// authorizes checks the record against the request: accounturi by simple
// string comparison, policy=wildcard (any case) for a wildcard, and
// persistUntil not passed at now.
func (r persistRecord) authorizes(accountURI string, wildcard bool, now time.Time) error {
	if r.accountURI != accountURI {
		return fmt.Errorf(persistAccountFormat, accountURI, r.accountURI)
	}
	if wildcard && !strings.EqualFold(r.policy, persistWildcardPolicy) {
		return fmt.Errorf(persistPolicyFormat, r.policy)
	}
	if !r.persistUntil.IsZero() && now.After(r.persistUntil) {
		return fmt.Errorf(persistUntilFormat, now.Format(time.RFC3339), r.persistUntil.Format(time.RFC3339))
	}
	return nil
}

// isWSP reports RFC 5234 WSP (space or tab), which RFC 8659 allows around
// the parts of an issue-value.
func isWSP(r rune) bool { return r == ' ' || r == '\t' }

// parsePersistRecord parses an RFC 8659 issue-value as the draft restricts
// it. The issuer is returned even when a parameter is malformed, so that
// only syntax errors in records naming this CA are reported.
func parsePersistRecord(txt string) (persistRecord, error) {
	parts := strings.Split(txt, ";")
	raw := strings.TrimFunc(parts[0], isWSP)
	if raw == "" {
		return persistRecord{}, errors.New(persistEmptyIssuer)
	}
	issuer, err := normalizeIssuer(raw)
	if err != nil {
		return persistRecord{}, fmt.Errorf(persistBadIssuerFormat, raw, err)
	}
	rec := persistRecord{issuer: issuer}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		if err := rec.setParam(strings.TrimFunc(p, isWSP), seen); err != nil {
			return persistRecord{issuer: issuer}, err
		}
	}
	if rec.accountURI == "" {
		return persistRecord{issuer: issuer}, errors.New(persistMissingAccount)
	}
	return rec, nil
}

// setParam parses one "tag=value" parameter into r. Tags match without
// regard to case; unknown tags are ignored, as the draft requires.
func (r *persistRecord) setParam(param string, seen map[string]bool) error {
	if param == "" {
		return errors.New(persistEmptyParam)
	}
	tag, value, ok := strings.Cut(param, "=")
	if !ok {
		return fmt.Errorf(persistNotTagValue, param)
	}
	tag, value = strings.TrimFunc(tag, isWSP), strings.TrimFunc(value, isWSP)
	if tag == "" {
		return fmt.Errorf(persistEmptyTag, param)
	}
	for _, c := range value {
		if c < 0x21 || c > 0x7e || c == ';' {
			return fmt.Errorf(persistBadValueFormat, value, tag)
		}
	}
	key := strings.ToLower(tag)
	switch key {
	case "accounturi", "policy", "persistuntil":
	default:
		return nil
	}
	if seen[key] {
		return fmt.Errorf(persistDuplicateFormat, tag)
	}
	seen[key] = true
	switch key {
	case "accounturi":
		if value == "" {
			return errors.New(persistEmptyAccountURI)
		}
		r.accountURI = value
	case "policy":
		r.policy = value
	case "persistuntil":
		secs, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf(persistBadUntilFormat, value)
		}
		r.persistUntil = time.Unix(secs, 0).UTC()
	}
	return nil
}

// normalizeIssuer applies the draft's issuer-domain-name normalization:
// lower case, Unicode NFC and A-labels (IDNA lookup profile), no trailing
// dot, at most 253 octets.
func normalizeIssuer(name string) (string, error) {
	a, err := idna.Lookup.ToASCII(strings.ToLower(name))
	if err != nil {
		return "", err
	}
	a = strings.TrimSuffix(a, ".")
	if len(a) > maxIssuerDomainNameSize {
		return "", fmt.Errorf("longer than %d octets", maxIssuerDomainNameSize)
	}
	return a, nil
}
