package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

// recordingClock is a fake clock whose timers fire at once and remember
// how long they were asked to wait.
type recordingClock struct {
	*testingclock.FakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recordingClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return firedTimer(ch)
}

func (c *recordingClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

type firedTimer chan time.Time

func (t firedTimer) C() <-chan time.Time      { return t }
func (t firedTimer) Stop() bool               { return false }
func (t firedTimer) Reset(time.Duration) bool { return false }

// fakeNewOrder is an ACME server that answers new-order with the given
// statuses in turn (201 creates an order whose URL then answers 404) and
// records each new-order payload.
type fakeNewOrder struct {
	mu       sync.Mutex
	statuses []int
	payloads []string
}

func (f *fakeNewOrder) serve(t *testing.T) *httptest.Server {
	var srv *httptest.Server
	problem := func(w http.ResponseWriter, status int, typ, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"type":"urn:ietf:params:acme:error:%s","detail":%q,"status":%d}`, typ, detail, status)
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", "nonce")
		switch r.URL.Path {
		case "/dir":
			fmt.Fprintf(w, `{"newNonce":%q,"newAccount":%q,"newOrder":%q,"renewalInfo":%q}`,
				srv.URL+"/nonce", srv.URL+"/acct", srv.URL+"/new-order", srv.URL+"/ari")
		case "/nonce":
		case "/acct":
			w.Header().Set("Location", srv.URL+"/acct/1")
			fmt.Fprint(w, `{"status":"valid"}`)
		case "/new-order":
			jws, err := jose.ParseSignedJSON(readAll(r), []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Errorf("new-order JWS: %v", err)
				return
			}
			f.mu.Lock()
			f.payloads = append(f.payloads, string(jws.UnsafePayloadWithoutVerification()))
			status := f.statuses[0]
			if len(f.statuses) > 1 {
				f.statuses = f.statuses[1:]
			}
			f.mu.Unlock()
			switch status {
			case http.StatusCreated:
				w.Header().Set("Location", srv.URL+"/order/1")
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"status":"pending","authorizations":[],"finalize":%q}`, srv.URL+"/finalize/1")
			case http.StatusConflict:
				problem(w, status, "alreadyReplaced", "cannot indicate an order replaces certificate with serial \"01\", which already has a replacement order")
			case http.StatusTooManyRequests:
				problem(w, status, "rateLimited", "too many new orders recently")
			case http.StatusBadRequest:
				problem(w, status, "rejectedIdentifier", "Invalid identifiers requested")
			default:
				problem(w, status, "serverInternal", "boom")
			}
		default:
			problem(w, http.StatusNotFound, "malformed", "Page not found")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestNewOrderRetries: 5xx new-orders are retried after 5 s, 10 s, 20 s
// on the injected clock; every 4xx (429 included) ends the attempt; a
// refused replaces is dropped once, at once.
func TestNewOrderRetries(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int
		replaces     string
		wantAttempts int
		wantWaits    []time.Duration
		wantStatus   int // of the error's problem; 404 means new-order succeeded
	}{
		{"503 then created", []int{503, 201}, "", 2, []time.Duration{5 * time.Second}, 404},
		{"500 until the retries run out", []int{500}, "", 4, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}, 500},
		{"400 is final", []int{400}, "", 1, nil, 400},
		{"429 is final", []int{429}, "", 1, nil, 429},
		{"alreadyReplaced: retried without replaces", []int{409, 201}, "aki.serial", 2, nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNewOrder{statuses: tt.statuses}
			srv := f.serve(t)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			clk := &recordingClock{FakeClock: testingclock.NewFakeClock(time.Unix(1e9, 0))}
			c, err := New(Config{DirectoryURL: srv.URL + "/dir"}, Deps{Clock: clk, AccountKey: key, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Issue(t.Context(), Request{Names: []string{"a.test"}, Replaces: tt.replaces})
			if p := Problem(err); p == nil || p.StatusCode != tt.wantStatus {
				t.Fatalf("Issue error = %v, want a %d problem", err, tt.wantStatus)
			}
			f.mu.Lock()
			payloads := f.payloads
			f.mu.Unlock()
			if len(payloads) != tt.wantAttempts {
				t.Errorf("%d new-order requests, want %d", len(payloads), tt.wantAttempts)
			}
			if got := clk.recorded(); fmt.Sprint(got) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
			if tt.replaces != "" {
				var first, last struct{ Replaces string }
				_ = json.Unmarshal([]byte(payloads[0]), &first)
				_ = json.Unmarshal([]byte(payloads[len(payloads)-1]), &last)
				if first.Replaces != tt.replaces || last.Replaces != "" || !strings.Contains(payloads[0], `"replaces"`) {
					t.Errorf("payloads %q: want replaces first, then none", payloads)
				}
			}
		})
	}
}
