package ratelimit

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The Self-Service Frontend's unpause paths (Boulder's unpause and sfe
// packages) and the JWT it redeems.
const (
	unpauseFormPath   = "/sfe/v1/unpause"
	unpausePostPath   = "/sfe/v1/do-unpause"
	unpauseStatusPath = "/sfe/v1/unpause-status"

	jwtIssuer   = "WFE"
	jwtAudience = "SFE Unpause"
	jwtVersion  = "v1"

	// maxFormBytes caps an unpause POST body.
	maxFormBytes = 16 << 10
)

// errMalformedJWT marks a missing or unparseable unpause JWT.
var errMalformedJWT = errors.New("malformed JWT")

// unpauseClaims are Boulder's unpause JWT claims: sub is the account ID,
// "identifiers" the paused values joined by ",".
type unpauseClaims struct {
	jwt.Claims
	Version     string `json:"version"`
	Identifiers string `json:"identifiers"`
}

// unpauseJWT signs an HS256 unpause JWT for the account's paused values.
func (l *Limiter) unpauseJWT(account int64, values []string) (string, error) {
	now := l.clk.Now()
	c := unpauseClaims{
		Claims: jwt.Claims{
			Issuer:   jwtIssuer,
			Subject:  strconv.FormatInt(account, 10),
			Audience: jwt.Audience{jwtAudience},
			IssuedAt: jwt.NewNumericDate(now),
			Expiry:   jwt.NewNumericDate(now.Add(l.jwtLifetime)),
		},
		Version:     jwtVersion,
		Identifiers: strings.Join(values, ","),
	}
	return jwt.Signed(l.signer).Claims(c).Serialize()
}

// redeemJWT checks an unpause JWT as Boulder's RedeemJWT (signature,
// issuer, audience, expiry with go-jose's one-minute leeway, account,
// version, identifiers) and returns the account and identifier values.
// Errors wrap errMalformedJWT or jwt.ErrExpired where those apply.
func (l *Limiter) redeemJWT(token string) (int64, []string, error) {
	if token == "" || strings.Count(token, ".") != 2 {
		return 0, nil, errMalformedJWT
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return 0, nil, errors.Join(errMalformedJWT, err)
	}
	var c unpauseClaims
	if err := parsed.Claims(l.hmacKey, &c); err != nil {
		return 0, nil, errors.Join(errMalformedJWT, err)
	}
	err = c.Validate(jwt.Expected{Issuer: jwtIssuer, AnyAudience: jwt.Audience{jwtAudience}, Time: l.clk.Now()})
	if err != nil {
		return 0, nil, fmt.Errorf("validating JWT: %w", err)
	}
	account, err := strconv.ParseInt(c.Subject, 10, 64)
	switch {
	case err != nil || account <= 0:
		return 0, nil, errors.New("invalid account ID specified in the JWT")
	case c.Version != jwtVersion:
		return 0, nil, fmt.Errorf("unexpected API version in the JWT: %q", c.Version)
	case c.Identifiers == "":
		return 0, nil, errors.New("no identifiers specified in the JWT")
	}
	return account, strings.Split(c.Identifiers, ","), nil
}

// UnpauseHandler serves the unpause pages of Let's Encrypt's Self-Service
// Frontend, to be mounted on the ACME listener at /sfe/v1/:
//
//	GET  /sfe/v1/unpause?jwt=…         the form (or an invalid / expired page)
//	POST /sfe/v1/do-unpause?jwt=…      unpauses every paused identifier of the
//	                                   account (up to 50,000), then 302 to
//	GET  /sfe/v1/unpause-status?count=N
//
// The JWT may also come as a "jwt" form field. Pages are HTML with status
// 200, as Boulder renders them. Safe for concurrent use.
func (l *Limiter) UnpauseHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+unpauseFormPath, l.unpauseForm)
	mux.HandleFunc("POST "+unpausePostPath, l.unpauseSubmit)
	mux.HandleFunc("GET "+unpauseStatusPath, l.unpauseStatus)
	return mux
}

func (l *Limiter) unpauseForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("jwt")
	account, values, err := l.redeemJWT(token)
	if err != nil {
		l.unpauseError(w, err)
		return
	}
	l.render(w, "form", struct {
		Action      string
		Account     int64
		Identifiers []string
	}{unpausePostPath + "?" + url.Values{"jwt": {token}}.Encode(), account, values})
}

func (l *Limiter) unpauseSubmit(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("jwt")
	if token == "" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		token = r.PostFormValue("jwt")
	}
	account, _, err := l.redeemJWT(token)
	if err != nil {
		l.unpauseError(w, err)
		return
	}
	n, err := l.pauses.Unpause(r.Context(), account, l.clk.Now(), maxUnpause)
	if err != nil {
		l.log.WarnContext(r.Context(), "unpausing account", "account", account, "error", err)
		l.render(w, "status", statusPage{})
		return
	}
	l.log.InfoContext(r.Context(), "account unpaused", "account", account, "count", n)
	http.Redirect(w, r, unpauseStatusPath+"?count="+strconv.FormatInt(n, 10), http.StatusFound)
}

func (l *Limiter) unpauseStatus(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("count"), 10, 64)
	if err != nil || n < 0 {
		l.render(w, "status", statusPage{})
		return
	}
	l.render(w, "status", statusPage{Successful: true, Count: n, Limit: maxUnpause})
}

// unpauseError shows the page Boulder shows for a bad JWT.
func (l *Limiter) unpauseError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		l.render(w, "expired", nil)
	case errors.Is(err, errMalformedJWT):
		l.render(w, "invalid", nil)
	default:
		l.render(w, "status", statusPage{})
	}
}

type statusPage struct {
	Successful bool
	Count      int64
	Limit      int64
}

func (l *Limiter) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := l.pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "internal error rendering page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// parsePages compiles the unpause pages. Texts follow Boulder's sfe/pages.
func parsePages() (*template.Template, error) {
	t, err := template.New("pages").Parse(pagesHTML)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: unpause pages: %w", err)
	}
	return t, nil
}

const pagesHTML = `
{{define "head"}}<!doctype html>
<html dir="ltr" lang="en-US">
<head><meta charset="utf-8"><title>Unpause - Self-Service Frontend</title></head>
<body>{{end}}
{{define "foot"}}<p><small>Served by fakeca, a local stand-in for Let's Encrypt.</small></p>
</body>
</html>
{{end}}
{{define "form"}}{{template "head"}}
<h1>Action required to unpause your account</h1>
<p>You have been directed to this page because your ACME account (ID: {{.Account}}) is temporarily
restricted from requesting new certificates for certain identifiers including, but not limited to,
the following:</p>
<ul>{{range .Identifiers}}<li>{{.}}</li>{{end}}</ul>
<h1>Why did this happen?</h1>
<p>This often happens when domain names expire, point to new hosts, or if there are issues with the
DNS configuration or web server settings. These problems prevent your ACME client from successfully
validating control over the domain, which is necessary for issuing TLS certificates.</p>
<h1>Ready to unpause?</h1>
<p>If you believe these issues have been addressed, click the button below to remove the pause on
your account. This action will allow you to resume requesting certificates for all affected
identifiers associated with your account, not just those listed above.</p>
<form action="{{.Action}}" method="POST">
<button id="submit">Please Unpause My Account</button>
</form>
{{template "foot"}}{{end}}
{{define "invalid"}}{{template "head"}}
<h1>Invalid Request To Unpause Account</h1>
<p>Your unpause request was invalid meaning that we could not find all of the data required in the
URL. Please verify you copied the log line from your client correctly.</p>
{{template "foot"}}{{end}}
{{define "expired"}}{{template "head"}}
<h1>Expired Unpause Link</h1>
<p>The link you followed to unpause your account has expired. Request a certificate again with your
ACME client: the error it receives contains a new link.</p>
{{template "foot"}}{{end}}
{{define "status"}}{{template "head"}}
{{if .Successful}}<h1>Your ACME Account Has Been Unpaused</h1>
<p>Your ACME account has been unpaused ({{.Count}} identifiers). To obtain a new certificate,
re-attempt issuance with your ACME client. Future repeated validation failures with no successes
will result in your account being paused again.</p>
{{if ge .Count .Limit}}<p>At most {{.Limit}} identifiers are unpaused at a time; some may still be
paused. Submit the form again to unpause more.</p>{{end}}
{{else}}<h1>Error Occurred While Unpausing Account</h1>
<p>An error was encountered when attempting to unpause your account. Please try again later.</p>
{{end}}{{template "foot"}}{{end}}
`
