package ca

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
)

// directoryFiller is the value of Boulder's random directory entry.
const directoryFiller = "https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417"

func randomDirKey() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:])
}

// directory serves the directory (reference §4.5), with Boulder's random
// extra key so clients learn not to depend on the key set.
func (s *Server) directory(w http.ResponseWriter, r *http.Request) error {
	l := s.linkerFor(r)
	d := directoryJSON{
		NewNonce: l.url(l.p.newNonce), NewAccount: l.url(l.p.newAccount), NewOrder: l.url(l.p.newOrder),
		RevokeCert: l.url(l.p.revoke), KeyChange: l.url(l.p.keyChange), RenewalInfo: l.url(l.p.renewalInfo),
		Meta: metaJSON{TermsOfService: s.cfg.TermsOfService, Website: s.cfg.Website,
			CAAIdentities: s.cfg.CAAIdentities, ExternalAccountRequired: s.cfg.ExternalAccountRequired},
	}
	if len(s.cfg.Profiles) > 0 {
		d.Meta.Profiles = make(map[string]string, len(s.cfg.Profiles))
		for n, p := range s.cfg.Profiles {
			d.Meta.Profiles[n] = p.Description
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	if s.cfg.Paths != PathsPebble { // Pebble's directory has no random entry
		obj[s.dirKey] = directoryFiller
	}
	writeJSON(w, "application/json", http.StatusOK, obj)
	return nil
}

// newNonce answers HEAD with 200 and GET with 204, as Boulder does; a
// POST-as-GET also gets 200.
func (s *Server) newNonce(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		if _, err := s.verifyPostAsGet(r); err != nil {
			return err
		}
	}
	if r.Method != http.MethodPost { // a POST got its nonce from the route wrapper
		w.Header().Set("Replay-Nonce", s.nonces.issue())
	}
	w.Header().Set("Cache-Control", "public, max-age=0, no-cache")
	if r.Method == http.MethodGet {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
