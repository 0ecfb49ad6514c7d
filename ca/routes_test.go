package ca

import (
	"net/http"
	"strings"
	"testing"
)

func TestDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	for _, path := range []string{pathDirectory, pathPebbleDir} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := e.do(method, e.url(path), "", nil)
				wantStatus(t, r, http.StatusOK)
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if l := r.header.Values("Link"); len(l) != 0 {
					t.Errorf("the directory carries Link %q; only other resources link to the index", l)
				}
				var d map[string]any
				r.decode(t, &d)
				checkDirectory(t, e, d)
			})
		}
	}
}

func checkDirectory(t *testing.T, e *env, d map[string]any) {
	t.Helper()
	endpoints := map[string]string{"newNonce": pathNewNonce, "newAccount": pathNewAccount, "newOrder": pathNewOrder,
		"revokeCert": pathRevoke, "keyChange": pathKeyChange, "renewalInfo": pathRenewalInfo}
	var extra []string
	for k, v := range d {
		if p, ok := endpoints[k]; ok {
			if v != e.url(p) {
				t.Errorf("%s = %v, want %s", k, v, e.url(p))
			}
			delete(endpoints, k)
			continue
		}
		if k != "meta" {
			extra = append(extra, k)
			if len(k) != 8 || v != directoryFiller {
				t.Errorf("unexpected directory entry %q: %v", k, v)
			}
		}
	}
	if len(endpoints) != 0 {
		t.Errorf("missing endpoints %v", endpoints)
	}
	if len(extra) != 1 {
		t.Errorf("random entries %q, want exactly one", extra)
	}
	meta, _ := d["meta"].(map[string]any)
	if meta["termsOfService"] != "https://letsencrypt.org/documents/LE-SA-v1.8-July-06-2026.pdf" ||
		meta["website"] != "https://letsencrypt.org/docs/staging-environment/" {
		t.Errorf("meta = %v", meta)
	}
	if caa, _ := meta["caaIdentities"].([]any); len(caa) != 1 || caa[0] != "letsencrypt.org" {
		t.Errorf("caaIdentities = %v", meta["caaIdentities"])
	}
	if _, ok := meta["externalAccountRequired"]; ok {
		t.Errorf("externalAccountRequired present though not required: %v", meta)
	}
	profiles, _ := meta["profiles"].(map[string]any)
	want := map[string]string{"classic": "https://letsencrypt.org/docs/profiles#classic",
		"tlsserver": "https://letsencrypt.org/docs/profiles#tlsserver", "shortlived": "https://letsencrypt.org/docs/profiles#shortlived"}
	if len(profiles) != len(want) {
		t.Errorf("profiles = %v", profiles)
	}
	for k, v := range want {
		if profiles[k] != v {
			t.Errorf("profiles[%s] = %v, want %s", k, profiles[k], v)
		}
	}
}

func TestNewNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	tests := []struct {
		name   string
		send   func() *response
		status int
	}{
		{"HEAD", func() *response { return e.do(http.MethodHead, e.url(pathNewNonce), "", nil) }, http.StatusOK},
		{"GET", func() *response { return e.get(e.url(pathNewNonce)) }, http.StatusNoContent},
		{"POST-as-GET", func() *response { return acct.post(e.url(pathNewNonce), nil) }, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.send()
			wantStatus(t, r, tc.status)
			if n := r.header.Get("Replay-Nonce"); len(n) != 51 {
				t.Errorf("Replay-Nonce = %q", n)
			}
			if got := r.header.Get("Cache-Control"); got != "public, max-age=0, no-cache" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := r.header.Values("Link"); !contains(got, link(e.url(pathDirectory), "index")) {
				t.Errorf("Link = %q", got)
			}
			if len(r.body) != 0 {
				t.Errorf("body = %q, want empty", r.body)
			}
		})
	}
}

func TestMethodNotAllowedAndNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	tests := []struct {
		method, path string
		status       int
		allow        string
		detail       string
	}{
		{http.MethodGet, pathNewAccount, 405, "POST", "Method not allowed"},
		{http.MethodPut, pathNewOrder, 405, "POST", "Method not allowed"},
		{http.MethodGet, pathRevoke, 405, "POST", "Method not allowed"},
		{http.MethodGet, pathKeyChange, 405, "POST", "Method not allowed"},
		{http.MethodGet, pathFinalize + "1/1", 405, "POST", "Method not allowed"},
		{http.MethodDelete, pathDirectory, 405, "GET, HEAD, POST", "Method not allowed"},
		{http.MethodPut, pathNewNonce, 405, "GET, HEAD, POST", "Method not allowed"},
		{http.MethodGet, "/nope", 404, "", "Page not found"},
		{http.MethodPost, "/acme/order/x/y", 404, "", "Page not found"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, e.url(tc.path), "", nil)
			wantProblem(t, r, "malformed", tc.status, tc.detail)
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if got := r.header.Values("Link"); contains(got, link(e.url(pathDirectory), "index")) != (tc.path != pathDirectory) {
				t.Errorf("Link = %q (only the directory has no index link)", got)
			}
			if hasNonce := r.header.Get("Replay-Nonce") != ""; hasNonce != (tc.method != http.MethodGet) {
				t.Errorf("Replay-Nonce present = %v for %s", hasNonce, tc.method)
			}
		})
	}
}

// TestHeadOnGettableResources: Boulder's HandleFunc lets every GET
// resource answer HEAD too.
func TestHeadOnGettableResources(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	got := e.newAccount().issue("head.test")
	a := e.getAuthz(got.order.Authorizations[0])
	for _, u := range []string{got.orderURL, got.order.Authorizations[0], a.Challenges[0].URL, got.order.Certificate} {
		wantStatus(t, e.do(http.MethodHead, u, "", nil), http.StatusOK)
	}
}

// TestCommonHeaders: reference §2.1 — every response carries
// Cache-Control: public, max-age=0, no-cache; authenticated ones carry
// Boulder-Requester (§8 Headers).
func TestCommonHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	t.Run("Cache-Control", func(t *testing.T) {
		for _, r := range []*response{e.get(e.url(pathDirectory)), acct.post(acct.kid, nil), e.get(e.url("/nope"))} {
			if got := r.header.Get("Cache-Control"); got != "public, max-age=0, no-cache" {
				t.Errorf("Cache-Control = %q", got)
			}
		}
	})
	t.Run("Boulder-Requester", func(t *testing.T) {
		r := acct.post(acct.kid, nil)
		if got, want := r.header.Get("Boulder-Requester"), itoa(acct.id()); got != want {
			t.Errorf("Boulder-Requester = %q, want %q", got, want)
		}
	})
}

// TestIndexLinkEverywhere: every resource but the directory links to it.
func TestIndexLinkEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	acct := e.newAccount()
	got := acct.issue("link.test")
	urls := []string{got.orderURL, got.order.Authorizations[0], got.order.Certificate}
	for _, u := range urls {
		for _, r := range []*response{e.get(u), acct.post(u, nil)} {
			if l := r.header.Values("Link"); !contains(l, link(e.url(pathDirectory), "index")) {
				t.Errorf("%s: Link = %q", strings.TrimPrefix(u, e.base), l)
			}
		}
	}
}
