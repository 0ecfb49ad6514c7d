package ca

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/store"
)

// renewalOverrides are per-serial renewal-info bodies set through Pebble's
// management POST /set-renewal-info/ (reference §1.8). The map is
// replaced whole on change (copy on write), so renewal-info reads it
// without a lock; mu only orders writers.
type renewalOverrides struct {
	mu  sync.Mutex
	set atomic.Pointer[map[string][]byte]
}

func (o *renewalOverrides) get(serial string) ([]byte, bool) {
	if p := o.set.Load(); p != nil {
		b, ok := (*p)[serial]
		return b, ok
	}
	return nil, false
}

func (o *renewalOverrides) put(serial string, body []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	next := map[string][]byte{}
	if p := o.set.Load(); p != nil {
		next = maps.Clone(*p)
	}
	next[serial] = body
	o.set.Store(&next)
}

// retryAfterOverride is Pebble's fixed ARI Retry-After (6 hours).
const retryAfterOverride = "21600"

// Texts of /set-renewal-info/.
const (
	detailSetRenewalPayload = `set-renewal-info wants JSON {"certificate": PEM, "ariResponse": string} or {"certificate": PEM, "suggestedWindow": {"start", "end"}, "explanationURL"?}`
	detailSetRenewalCert    = "certificate is not a PEM certificate"
	detailSetRenewalWindow  = "suggestedWindow: end must be after start"
)

// setRenewalInfoJSON is the body of /set-renewal-info/: Pebble's shape
// (Certificate and ARIResponse, served as given, even if not JSON), or a
// window that fakeca renders as a renewal-info answer. Keys match
// case-insensitively, as Pebble's encoding/json does.
type setRenewalInfoJSON struct {
	Certificate     string
	ARIResponse     *string
	SuggestedWindow *struct{ Start, End time.Time }
	ExplanationURL  string
}

// setRenewalInfo serves POST /set-renewal-info/ on the management
// listener: 400 malformed for a bad body or certificate, 404 for a
// certificate this CA did not issue, 200 once the override is stored.
func (s *Server) setRenewalInfo(w http.ResponseWriter, r *http.Request) {
	var in setRenewalInfoJSON
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(raw, &in) != nil || (in.ARIResponse == nil) == (in.SuggestedWindow == nil) {
		s.writeError(w, r, acme.New(acme.Malformed, "%s", detailSetRenewalPayload))
		return
	}
	block, _ := pem.Decode([]byte(in.Certificate))
	if block == nil || block.Type != "CERTIFICATE" {
		s.writeError(w, r, acme.New(acme.Malformed, detailSetRenewalCert))
		return
	}
	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		s.writeError(w, r, acme.New(acme.Malformed, detailSetRenewalCert))
		return
	}
	serial := pki.SerialString(parsed.SerialNumber)
	if _, err := s.store.GetCertificate(r.Context(), serial); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, acme.New(acme.NotFound, detailNoSuchCert))
		} else {
			s.writeError(w, r, err)
		}
		return
	}
	var body []byte
	if in.ARIResponse != nil {
		body = []byte(*in.ARIResponse)
	} else {
		sw := in.SuggestedWindow
		if !sw.End.After(sw.Start) {
			s.writeError(w, r, acme.New(acme.Malformed, detailSetRenewalWindow))
			return
		}
		var ri renewalInfoJSON
		ri.SuggestedWindow.Start, ri.SuggestedWindow.End = sw.Start.UTC(), sw.End.UTC()
		ri.ExplanationURL = in.ExplanationURL
		body, _ = json.MarshalIndent(ri, "", "  ")
		body = append(body, '\n')
	}
	s.renewalOverrides.put(serial, body)
	w.WriteHeader(http.StatusOK)
}

// writeRenewalOverride serves a stored override as given.
func writeRenewalOverride(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", retryAfterOverride)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
