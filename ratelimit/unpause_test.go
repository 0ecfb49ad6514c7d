package ratelimit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// noRedirect is an HTTP client that returns redirects instead of following
// them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// pausedURL fails the consecutive-failures limit of account 1 for
// a.example.com until it pauses and returns the unpause URL from the 429.
func pausedURL(t *testing.T, l *Limiter) string {
	t.Helper()
	e := rateLimited(t, order(l, 1, dns("a.example.com")...))
	if e.RetryAfter != 0 {
		t.Fatalf("paused error with Retry-After: %+v", e)
	}
	_, u, ok := strings.Cut(e.Detail, "Please visit: ")
	if !ok {
		t.Fatalf("not a paused error: %s", e.Detail)
	}
	return u
}

// TestUnpauseFlow runs pausing, the unpause pages, the 14-day grace and the
// reset on success, end to end through UnpauseHandler.
func TestUnpauseFlow(t *testing.T) {
	ctx := context.Background()
	// Pause after 2 consecutive failures; one failure refills per day.
	// Failed authorizations per hour are raised out of the way.
	cfg := Config{Preset: PresetProduction, Limits: []Override{{Limit: FailedAuthorizationsPerDomainPerAccount,
		Burst: 1000, Count: 1000, Period: time.Hour}}, Overrides: []Override{{Limit: FailedAuthorizationsForPausingPerDomainPerAccount,
		Burst: 2, Count: 1, Period: 24 * time.Hour, IDs: []OverrideID{{ID: "1"}}}}}
	l, clk := newTest(t, cfg)
	srv := httptest.NewServer(l.UnpauseHandler())
	defer srv.Close()
	l.unpauseBase = srv.URL
	client := noRedirect()
	fail := func() { _ = l.AuthzFailed(ctx, 1, dns("a.example.com")[0]) }

	// Two failures use the bucket up; the third pauses.
	fail()
	fail()
	mustAllow(t, "before the pause", order(l, 1, dns("a.example.com")...))
	fail()
	u := pausedURL(t, l)
	if !strings.HasPrefix(u, srv.URL+"/sfe/v1/unpause?jwt=") {
		t.Fatalf("unpause URL %s", u)
	}
	// Other identifiers and accounts are not paused.
	mustAllow(t, "other identifier", order(l, 1, dns("b.example.com")...))
	mustAllow(t, "other account", order(l, 2, dns("a.example.com")...))

	// The form names the account and identifier and posts the JWT; posting
	// it unpauses and redirects to the status page.
	token := strings.TrimPrefix(u, srv.URL+"/sfe/v1/unpause?jwt=")
	checkForm(t, client, u, token)
	if loc := submitUnpause(t, client, srv.URL+"/sfe/v1/do-unpause?jwt="+token, nil); loc != "/sfe/v1/unpause-status?count=1" {
		t.Fatalf("do-unpause Location %q", loc)
	}
	code, body, _ := get(t, client, srv.URL+"/sfe/v1/unpause-status?count=1")
	if code != 200 || !strings.Contains(body, "Your ACME Account Has Been Unpaused") {
		t.Errorf("status page %d:\n%s", code, body)
	}
	mustAllow(t, "after unpausing", order(l, 1, dns("a.example.com")...))

	// Within 14 days, failures do not pause again (the bucket stays empty).
	clk.Step(13 * 24 * time.Hour)
	for range 20 {
		fail()
	}
	mustAllow(t, "inside the grace", order(l, 1, dns("a.example.com")...))

	// After 14 days they do, once the bucket is used up again.
	clk.Step(2 * 24 * time.Hour)
	fail()
	fail()
	mustAllow(t, "bucket refilled after the grace", order(l, 1, dns("a.example.com")...))
	fail()
	u = pausedURL(t, l)

	// The first link has expired by now; the new one works, as a form field
	// too. A second submission finds nothing paused: count 0.
	code, body, _ = get(t, client, srv.URL+"/sfe/v1/unpause?jwt="+token)
	if code != 200 || !strings.Contains(body, "Expired Unpause Link") {
		t.Errorf("old link: %d\n%s", code, body)
	}
	token = strings.TrimPrefix(u, srv.URL+"/sfe/v1/unpause?jwt=")
	for _, want := range []string{"count=1", "count=0"} {
		loc := submitUnpause(t, client, srv.URL+"/sfe/v1/do-unpause", url.Values{"jwt": {token}})
		if !strings.HasSuffix(loc, want) {
			t.Errorf("Location %q, want …%s", loc, want)
		}
	}
}

// checkForm fetches the unpause form and checks what it shows and posts.
func checkForm(t *testing.T, client *http.Client, u, token string) {
	t.Helper()
	code, body, hdr := get(t, client, u)
	for _, want := range []string{"Action required to unpause your account", "(ID: 1)", "<li>a.example.com</li>",
		`action="/sfe/v1/do-unpause?jwt=` + token + `"`, `method="POST"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %q:\n%s", want, body)
		}
	}
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("form: %d %s", code, hdr.Get("Content-Type"))
	}
}

// submitUnpause posts the unpause form and returns the 302's Location.
func submitUnpause(t *testing.T, client *http.Client, u string, form url.Values) string {
	t.Helper()
	resp, err := client.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("POST %s: %d, want 302", u, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// TestValidationResetsPausing: a success between failures resets the
// consecutive-failures bucket, so failures never add up to a pause.
func TestValidationResetsPausing(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Preset: PresetProduction, Overrides: []Override{{Limit: FailedAuthorizationsForPausingPerDomainPerAccount,
		Burst: 2, Count: 1, Period: 24 * time.Hour, IDs: []OverrideID{{ID: "1"}}}}}
	l, _ := newTest(t, cfg)
	id := dns("a.example.com")[0]
	for range 5 {
		_ = l.AuthzFailed(ctx, 1, id)
		_ = l.AuthzFailed(ctx, 1, id)
		if err := l.AuthzValid(ctx, 1, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := remaining(t, l, "8:1:a.example.com"); got != -1 {
		t.Errorf("pausing bucket not reset (remaining %d)", got)
	}
	if recs, _ := l.pauses.List(ctx); len(recs) != 0 {
		t.Errorf("paused: %+v", recs)
	}
}

func TestUnpauseBadRequests(t *testing.T) {
	l, clk := newTest(t, Config{})
	srv := httptest.NewServer(l.UnpauseHandler())
	defer srv.Close()
	good, err := l.unpauseJWT(1, []string{"a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	forged := func(mutate func(*unpauseClaims), key []byte) string {
		c := unpauseClaims{Claims: jwt.Claims{Issuer: jwtIssuer, Subject: "1", Audience: jwt.Audience{jwtAudience},
			Expiry: jwt.NewNumericDate(t0.Add(time.Hour))}, Version: jwtVersion, Identifiers: "a.example.com"}
		mutate(&c)
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, nil)
		tok, _ := jwt.Signed(s).Claims(c).Serialize()
		return tok
	}
	tests := []struct {
		name, path, want string
		step             time.Duration
	}{
		{"missing JWT", "/sfe/v1/unpause", "Invalid Request To Unpause Account", 0},
		{"truncated JWT", "/sfe/v1/unpause?jwt=" + good[:len(good)/2], "Invalid Request To Unpause Account", 0},
		{"wrong key", "/sfe/v1/unpause?jwt=" + forged(func(*unpauseClaims) {}, make([]byte, 32)), "Invalid Request To Unpause Account", 0},
		{"wrong audience", "/sfe/v1/unpause?jwt=" + forged(func(c *unpauseClaims) { c.Audience = jwt.Audience{"x"} }, testKey), "Error Occurred While Unpausing Account", 0},
		{"wrong version", "/sfe/v1/unpause?jwt=" + forged(func(c *unpauseClaims) { c.Version = "v2" }, testKey), "Error Occurred While Unpausing Account", 0},
		{"no identifiers", "/sfe/v1/unpause?jwt=" + forged(func(c *unpauseClaims) { c.Identifiers = "" }, testKey), "Error Occurred While Unpausing Account", 0},
		{"bad account", "/sfe/v1/unpause?jwt=" + forged(func(c *unpauseClaims) { c.Subject = "x" }, testKey), "Error Occurred While Unpausing Account", 0},
		{"good JWT within the leeway", "/sfe/v1/unpause?jwt=" + good, "Action required", DefaultUnpauseJWTLifetime + 30*time.Second},
		{"expired JWT", "/sfe/v1/unpause?jwt=" + good, "Expired Unpause Link", 2 * time.Minute},
		{"bad count", "/sfe/v1/unpause-status?count=-3", "Error Occurred While Unpausing Account", 0},
		{"no count", "/sfe/v1/unpause-status", "Error Occurred While Unpausing Account", 0},
		{"full batch", "/sfe/v1/unpause-status?count=50000", "some may still be", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Step(tt.step)
			code, body, _ := get(t, http.DefaultClient, srv.URL+tt.path)
			if code != 200 || !strings.Contains(body, tt.want) {
				t.Errorf("%d, want 200 with %q:\n%s", code, tt.want, body)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/sfe/v1/do-unpause?jwt=x.y", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Invalid Request") {
		t.Errorf("POST with a bad JWT: %s", b)
	}
	resp, err = http.Post(srv.URL+"/sfe/v1/unpause-status", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status page: %d, want 405", resp.StatusCode)
	}
}
