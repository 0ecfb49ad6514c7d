package challengeval

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/fakeca/fakeca/acme"
)

// Boulder's CAA texts (va/caa.go, ra/ra.go), verbatim.
const (
	// caaPrefixFormat prefixes every CAA failure with the identifier.
	caaPrefixFormat = "While processing CAA for %s: %s"
	// caaForbiddenFormat is filled with the name the relevant RRset was
	// found at (the identifier or a parent).
	caaForbiddenFormat = "CAA record for %s prevents issuance"
	// RecheckFormat is the detail of a single failed CAA recheck at
	// finalize, filled with the CheckCAA detail.
	RecheckFormat = "rechecking caa: %s"
	// RecheckManyFormat is the detail when several identifiers fail the
	// recheck, filled with the first identifier and how many more failed;
	// each failure is a sub-problem.
	RecheckManyFormat = "Rechecking CAA for %q and %d more identifiers failed. Refer to sub-problems for more information"
)

// CAARecheckAge is how old an authorization's validation may be before
// finalize must check CAA again (Boulder's caaRecheckDuration: the BRs allow
// 8 hours, Boulder keeps an hour of margin).
const CAARecheckAge = 7 * time.Hour

// CAA property tags and flags (RFC 8659 §4, RFC 8657).
const (
	caaTagIssue             = "issue"
	caaTagIssueWild         = "issuewild"
	caaTagIodef             = "iodef"
	caaParamAccountURI      = "accounturi"
	caaParamValidationMthds = "validationmethods"
	// caaCriticalFlags is the critical bit (128) and bit 1, which so many
	// publishers set by mistake that Boulder treats it as critical too.
	caaCriticalFlags = 128 | 1
)

// caaMethodRE is RFC 8657's method ABNF, 1*(ALPHA / DIGIT / "-").
var caaMethodRE = regexp.MustCompile(`^[[:alnum:]-]+$`)

// CheckCAA checks the CAA records of a DNS identifier (RFC 8659) as Let's
// Encrypt does after a successful validation and again at finalize for
// authorizations validated more than CAARecheckAge ago. wildcard (or a "*."
// prefix on ident) selects issuewild processing; accountURI and method (the
// challenge type that validated the authorization) are matched against
// RFC 8657's accounturi and validationmethods parameters. It returns nil for
// IP identifiers, with Config.SkipCAA, and when AlwaysValid applies to
// ident. Otherwise it returns nil or an *acme.Error: type caa "While
// processing CAA for <ident>: CAA record for <name> prevents issuance", or
// type dns with the failed look-up's detail after the same prefix. Safe for
// concurrent use.
func (v *Validator) CheckCAA(ctx context.Context, ident acme.Identifier, wildcard bool, accountURI, method string) error {
	if ident.Type != acme.TypeDNS || v.cfg.SkipCAA || v.rules.forIdentifier(ident).alwaysValid {
		return nil
	}
	wildcard = wildcard || ident.IsWildcard()
	name := strings.ToLower(baseName(ident))
	shown := name
	if wildcard {
		shown = "*." + name
	}
	set, err := v.relevantCAA(ctx, name)
	if err != nil {
		return acme.New(acme.DNS, caaPrefixFormat, shown, err.Error())
	}
	if set != nil && !set.permits(v.cfg.CAAIdentities, wildcard, accountURI, method) {
		return acme.New(acme.CAA, caaPrefixFormat, shown, fmt.Sprintf(caaForbiddenFormat, set.name))
	}
	return nil
}

// caaSet is the CAA RRset found at one name, split by what matters.
type caaSet struct {
	name            string
	issue           []*dns.CAA
	issuewild       []*dns.CAA
	criticalUnknown bool
}

// caaResult is the outcome of one CAA look-up during tree climbing.
type caaResult struct {
	set *caaSet // nil when the name has no CAA records
	err error
}

// relevantCAA finds the Relevant RRset (RFC 8659 §3): the CAA records of
// name or of its closest parent that has any. All names up to the TLD are
// asked in parallel, as Boulder does; a failed look-up before the first
// non-empty one is an error, because it may hide records.
func (v *Validator) relevantCAA(ctx context.Context, name string) (*caaSet, error) {
	labels := strings.Split(name, ".")
	results := make([]caaResult, len(labels))
	var wg sync.WaitGroup
	for i := range labels {
		wg.Go(func() {
			results[i] = v.lookupCAA(ctx, strings.Join(labels[i:], "."))
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if r.set != nil {
			return r.set, nil
		}
	}
	return nil, nil
}

func (v *Validator) lookupCAA(ctx context.Context, name string) caaResult {
	rrs, err := v.resolver.query(ctx, name, dns.TypeCAA)
	if err != nil {
		return caaResult{err: err}
	}
	if len(rrs) == 0 {
		return caaResult{}
	}
	set := &caaSet{name: name}
	for _, rr := range rrs {
		c, ok := rr.(*dns.CAA)
		if !ok {
			continue
		}
		switch strings.ToLower(c.Tag) {
		case caaTagIssue:
			set.issue = append(set.issue, c)
		case caaTagIssueWild:
			set.issuewild = append(set.issuewild, c)
		case caaTagIodef: // recognized, never acted on
		default:
			if c.Flag&caaCriticalFlags != 0 {
				set.criticalUnknown = true
			}
		}
	}
	return caaResult{set: set}
}

// permits applies RFC 8659 §4.2-4.3 and RFC 8657 to the relevant RRset.
func (s *caaSet) permits(identities []string, wildcard bool, accountURI, method string) bool {
	if s.criticalUnknown {
		return false
	}
	records := s.issue
	if wildcard && len(s.issuewild) > 0 {
		records = s.issuewild
	}
	if len(records) == 0 && !wildcard {
		return true // only issuewild, iodef or non-critical unknown properties
	}
	for _, c := range records {
		issuer, params, ok := parseCAAValue(c.Value)
		if !ok || !slices.Contains(identities, issuer) {
			continue
		}
		if caaAccountMatches(params, accountURI) && caaMethodMatches(params, method) {
			return true
		}
	}
	return false
}

// parseCAAValue splits an issue/issuewild value into the issuer domain name
// (empty for ";", which forbids issuance) and its tag=value parameters. ok
// is false when the value is malformed; such a record authorizes no one.
func parseCAAValue(value string) (issuer string, params map[string]string, ok bool) {
	parts := strings.Split(value, ";")
	issuer = strings.TrimFunc(parts[0], isWSP)
	params = map[string]string{}
	if len(parts) == 2 && strings.TrimFunc(parts[1], isWSP) == "" {
		return issuer, params, true
	}
	for _, p := range parts[1:] {
		tag, val, found := strings.Cut(p, "=")
		if !found {
			return "", nil, false
		}
		tag, val = strings.TrimFunc(tag, isWSP), strings.TrimFunc(val, isWSP)
		for _, r := range tag {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
				return "", nil, false
			}
		}
		for _, r := range val {
			if r < 0x21 || r > 0x7e || r == ';' {
				return "", nil, false
			}
		}
		params[tag] = val
	}
	return issuer, params, true
}

// caaAccountMatches: an accounturi parameter, if present, must be a URI
// equal to the requesting account's URL (RFC 8657 §3).
func caaAccountMatches(params map[string]string, accountURI string) bool {
	want, ok := params[caaParamAccountURI]
	if !ok {
		return true
	}
	if _, err := url.Parse(want); err != nil {
		return false
	}
	return accountURI != "" && want == accountURI
}

// caaMethodMatches: a validationmethods parameter, if present, must list the
// method used (RFC 8657 §4). Entries are read in order, as Boulder does: a
// malformed one before the match voids the record.
func caaMethodMatches(params map[string]string, method string) bool {
	list, ok := params[caaParamValidationMthds]
	if !ok {
		return true
	}
	for _, m := range strings.Split(list, ",") {
		if !caaMethodRE.MatchString(m) {
			return false
		}
		if method != "" && m == method {
			return true
		}
	}
	return false
}

// RecheckError builds the finalize error for CAA rechecks that failed, as
// Boulder's RA does: each failure (a CheckCAA error for one identifier,
// whatever its type) becomes type caa "rechecking caa: <detail>"; a single
// failure is returned as is, several become one caa error "Rechecking CAA
// for "<first>" and N more identifiers failed. Refer to sub-problems for
// more information" with one sub-problem each. Pass identifiers as the
// order holds them (with "*." for a wildcard), in the order to report.
// Entries with a nil Err are skipped; nil when none failed. Pure.
func RecheckError(failures []acme.SubError) error {
	var subs []acme.SubError
	for _, f := range failures {
		if f.Err == nil {
			continue
		}
		subs = append(subs, acme.SubError{Identifier: f.Identifier,
			Err: acme.New(acme.CAA, RecheckFormat, f.Err.Detail)})
	}
	switch len(subs) {
	case 0:
		return nil
	case 1:
		return subs[0].Err
	}
	e := acme.New(acme.CAA, RecheckManyFormat, subs[0].Identifier.Value, len(subs)-1)
	e.Sub = subs
	return e
}
