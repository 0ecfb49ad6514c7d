package scenarios

import "fmt"

// Validation failures a broken challenge responder produces, with the
// problem type and Boulder's detail the CA reports (reference §5 rows 4,
// 5, 7, 9, 19). %s is the identifier.
const (
	detailHTTP404      = "203.0.113.10: Invalid response from http://%s/.well-known/acme-challenge/token: 404"
	detailRefused      = "203.0.113.10: Fetching http://%s/.well-known/acme-challenge/token: Connection refused"
	detailTimeout      = "203.0.113.10: Fetching http://%s/.well-known/acme-challenge/token: Timeout during connect (likely firewall problem)"
	detailBadRedirect  = "203.0.113.10: Fetching http://%s/.well-known/acme-challenge/token: Invalid port in redirect target. Only ports 80 and 443 are supported, not 8443"
	detailNoTXT        = "No TXT record found at _acme-challenge.%s"
	detailCAAForbidden = "CAA record for %s prevents issuance"
	detailCAAServfail  = "DNS problem: SERVFAIL looking up CAA for %s - the domain's nameservers may be malfunctioning"
)

// failureNames lists the failure modes of a break step.
func failureNames() []string {
	return []string{"caa-forbidden", "caa-servfail", "connection-refused", "dns-not-propagated", "http-404",
		"redirect-bad-port", "timeout"}
}

// failure returns the ACME problem type and detail of a failure mode for
// identifier; ok is false for an unknown mode.
func failure(mode, identifier string) (typ, detail string, ok bool) {
	switch mode {
	case "http-404":
		typ, detail = "unauthorized", detailHTTP404
	case "connection-refused":
		typ, detail = "connection", detailRefused
	case "timeout":
		typ, detail = "connection", detailTimeout
	case "redirect-bad-port":
		typ, detail = "connection", detailBadRedirect
	case "dns-not-propagated":
		typ, detail = "unauthorized", detailNoTXT
	case "caa-forbidden":
		typ, detail = "caa", detailCAAForbidden
	case "caa-servfail":
		typ, detail = "dns", detailCAAServfail
	default:
		return "", "", false
	}
	return typ, fmt.Sprintf(detail, identifier), true
}
