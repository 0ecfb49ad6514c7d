package ca

import (
	"encoding/json"
	"net/http"
	"path"
	"sync/atomic"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// Incident makes matching certificates "renew now" through ARI, the way
// Let's Encrypt asks subscribers to renew early after a mis-issuance
// (Boulder's determineARIWindow checks incidents first). A certificate
// matches when its serial is listed, or any of its identifiers matches
// Identifier (a path.Match glob such as "*.example.test"), or its issuer
// is Issuer; empty criteria match nothing.
type Incident struct {
	Name           string   `json:"name"`
	ExplanationURL string   `json:"explanationURL"`
	Serials        []string `json:"serials,omitempty"`
	Identifier     string   `json:"identifier,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
}

// incidents is the current set, replaced whole on change (copy on write),
// so renewal-info reads it without a lock.
type incidents struct{ list atomic.Pointer[[]Incident] }

func (in *incidents) all() []Incident {
	if p := in.list.Load(); p != nil {
		return *p
	}
	return nil
}

// match returns the first incident that covers the certificate.
func (in *incidents) match(c store.Certificate) (Incident, bool) {
	for _, inc := range in.all() {
		if inc.covers(c) {
			return inc, true
		}
	}
	return Incident{}, false
}

func (inc Incident) covers(c store.Certificate) bool {
	for _, s := range inc.Serials {
		if s == c.Serial {
			return true
		}
	}
	if inc.Issuer != "" && inc.Issuer == c.IssuerID {
		return true
	}
	if inc.Identifier == "" {
		return false
	}
	for _, id := range c.Identifiers {
		if ok, _ := path.Match(inc.Identifier, id.Value); ok {
			return true
		}
	}
	return false
}

// Incident management texts.
const (
	detailIncidentPayload = "incident must be JSON with name, explanationURL and at least one of serials, identifier, issuer"
	detailIncidentPattern = "incident identifier %q is not a valid glob"
)

// handleIncidents serves GET (list), POST (add or replace by name) and
// DELETE (clear) on /incidents of the management listener.
func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, "application/json", http.StatusOK, map[string][]Incident{"incidents": s.incidents.all()})
	case http.MethodDelete:
		s.incidents.list.Store(nil)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		var inc Incident
		if err := json.NewDecoder(r.Body).Decode(&inc); err != nil || inc.Name == "" || inc.ExplanationURL == "" ||
			(len(inc.Serials) == 0 && inc.Identifier == "" && inc.Issuer == "") {
			s.writeError(w, r, acme.New(acme.Malformed, detailIncidentPayload))
			return
		}
		if _, err := path.Match(inc.Identifier, ""); err != nil {
			s.writeError(w, r, acme.New(acme.Malformed, detailIncidentPattern, inc.Identifier))
			return
		}
		next := []Incident{inc}
		for _, old := range s.incidents.all() {
			if old.Name != inc.Name {
				next = append(next, old)
			}
		}
		s.incidents.list.Store(&next)
		writeJSON(w, "application/json", http.StatusCreated, inc)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		s.writeError(w, r, acme.New(acme.MethodNotAllowed, detailMethodNotAllowed))
	}
}
