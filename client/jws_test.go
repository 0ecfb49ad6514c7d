package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
	jose "github.com/go-jose/go-jose/v4"
)

// TestPosterBadNonce checks cert-manager's badNonce policy on our own
// poster: waits of 1 s and 2 s (plus jitter) on the injected wait, then
// success; and giving up after the 6th POST.
func TestPosterBadNonce(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		wantPosts int
		wantErr   bool
	}{
		{"two badNonce then 200", 2, 3, false},
		{"always badNonce: 6 POSTs then the problem", 100, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var posts, nonces atomic.Int32
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Replay-Nonce", fmt.Sprintf("n%d", nonces.Add(1)))
				if r.Method == http.MethodHead {
					return
				}
				jws, err := jose.ParseSignedJSON(readAll(r), []jose.SignatureAlgorithm{jose.ES256})
				if err != nil || jws.Signatures[0].Protected.KeyID != "https://acct/1" {
					t.Errorf("bad JWS: %v", err)
				}
				if _, err := jws.Verify(key.Public()); err != nil {
					t.Errorf("signature: %v", err)
				}
				if posts.Add(1) <= int32(tt.failures) {
					w.Header().Set("Content-Type", "application/problem+json")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprint(w, `{"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"}`)
					return
				}
				fmt.Fprint(w, `{"status":"valid"}`)
			}))
			defer srv.Close()
			var mu sync.Mutex
			var waits []time.Duration
			p := &poster{httpc: srv.Client(), key: key, userAgent: "test", wait: func(_ context.Context, d time.Duration) error {
				mu.Lock()
				waits = append(waits, d)
				mu.Unlock()
				return nil
			}}
			body, _, err := p.post(t.Context(), srv.URL+"/nonce", srv.URL+"/order", "https://acct/1", nil)
			if (err != nil) != tt.wantErr || int(posts.Load()) != tt.wantPosts {
				t.Fatalf("post = %q, %v after %d POSTs; want error %v after %d", body, err, posts.Load(), tt.wantErr, tt.wantPosts)
			}
			if p := Problem(err); tt.wantErr && (p == nil || p.StatusCode != 400 || !strings.HasSuffix(p.ProblemType, "badNonce")) {
				t.Errorf("problem = %v", p)
			}
			for i, w := range waits {
				lo := NonceRetryDelay(i+1, 0)
				if w < lo || w > max(lo, nonceMaxDelay) || w > lo+time.Second {
					t.Errorf("wait %d = %v, want %v + jitter (≤ 3 s)", i+1, w, lo)
				}
			}
		})
	}
}

func TestProblemFromBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want acme.Error
	}{
		{"problem document", `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many"}`,
			acme.Error{StatusCode: 429, ProblemType: "urn:ietf:params:acme:error:rateLimited", Detail: "too many"}},
		{"not JSON", "Service Unavailable\n", acme.Error{StatusCode: 429, Detail: "Service Unavailable"}},
		{"empty", "", acme.Error{StatusCode: 429, Detail: "Too Many Requests"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Problem(problemFromBody(429, nil, []byte(tt.body)))
			if got.StatusCode != tt.want.StatusCode || got.ProblemType != tt.want.ProblemType || got.Detail != tt.want.Detail {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func readAll(r *http.Request) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
