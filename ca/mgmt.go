package ca

import (
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/ca/pki"
)

// ManagementHandler serves the management listener: the trust bundle, the
// roots and intermediates at Pebble's paths, and a health check. Later
// issues add rate limits, faults, events and metrics here.
func (s *Server) ManagementHandler() http.Handler {
	m := mux.NewRouter()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}).Methods(http.MethodGet, http.MethodHead)
	m.HandleFunc("/bundle", func(w http.ResponseWriter, _ *http.Request) {
		writePEM(w, s.pki.BundlePEM())
	}).Methods(http.MethodGet)
	m.HandleFunc("/roots/{n:[0-9]+}", s.mgmtRoot).Methods(http.MethodGet)
	m.HandleFunc("/intermediates/{n:[0-9]+}", s.mgmtIntermediate).Methods(http.MethodGet)
	m.HandleFunc("/root-keys/{n:[0-9]+}", s.mgmtKey(s.pki.RootKeyPEM)).Methods(http.MethodGet)
	m.HandleFunc("/intermediate-keys/{n:[0-9]+}", s.mgmtKey(s.pki.IntermediateKeyPEM)).Methods(http.MethodGet)
	m.HandleFunc("/cert-status-by-serial/{serial}", s.mgmtCertStatus).Methods(http.MethodGet)
	m.HandleFunc("/incidents", s.handleIncidents)
	m.HandleFunc("/set-renewal-info/", s.setRenewalInfo).Methods(http.MethodPost)
	m.NotFoundHandler = s.endpoint("", nil)
	return s.middleware(m)
}

func (s *Server) mgmtRoot(w http.ResponseWriter, r *http.Request) {
	roots := s.pki.Roots()
	n, _ := strconv.Atoi(mux.Vars(r)["n"])
	if n >= len(roots) {
		s.writeError(w, r, acme.New(acme.NotFound, detailNotFoundPage))
		return
	}
	for i := range roots { // Pebble links the other roots as alternates
		if i != n {
			w.Header().Add("Link", link("https://"+r.Host+"/roots/"+strconv.Itoa(i), "alternate"))
		}
	}
	writePEM(w, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: roots[n].Raw}))
}

func (s *Server) mgmtIntermediate(w http.ResponseWriter, r *http.Request) {
	ints := s.pki.Intermediates()
	n, _ := strconv.Atoi(mux.Vars(r)["n"])
	if n >= len(ints) {
		s.writeError(w, r, acme.New(acme.NotFound, detailNotFoundPage))
		return
	}
	writePEM(w, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ints[n].Raw}))
}

// mgmtKey serves a CA private key as PKCS#8 PEM, as Pebble does for test
// harnesses that sign their own OCSP responses (Pebble serves PKCS#1).
func (s *Server) mgmtKey(get func(int) ([]byte, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(mux.Vars(r)["n"])
		key, err := get(n)
		if err != nil {
			s.writeError(w, r, acme.New(acme.NotFound, detailNotFoundPage))
			return
		}
		writePEM(w, key)
	}
}

// certStatusJSON is Pebble's cert-status-by-serial answer.
type certStatusJSON struct {
	Status      string `json:"Status"`
	Serial      string `json:"Serial"`
	Certificate string `json:"Certificate"`
	Reason      *int   `json:"Reason,omitempty"`
	RevokedAt   string `json:"RevokedAt,omitempty"`
}

// mgmtCertStatus answers Pebble's /cert-status-by-serial/<hex>: 400 if not
// hex, 404 if unknown; RevokedAt in Go's time.String format, as Pebble.
func (s *Server) mgmtCertStatus(w http.ResponseWriter, r *http.Request) {
	n, ok := new(big.Int).SetString(mux.Vars(r)["serial"], 16)
	if !ok {
		s.writeError(w, r, acme.New(acme.Malformed, "serial is not hexadecimal"))
		return
	}
	c, err := s.store.GetCertificate(r.Context(), pki.SerialString(n))
	if err != nil {
		s.writeError(w, r, acme.New(acme.NotFound, detailNoSuchCert))
		return
	}
	out := certStatusJSON{Status: "Valid", Serial: c.Serial,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))}
	if c.Revoked {
		reason := c.Reason
		out.Status, out.Reason, out.RevokedAt = "Revoked", &reason, c.RevokedAt.String()
	}
	writeJSON(w, "application/json", http.StatusOK, out)
}

func writePEM(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(b)
}

// PublicHandler serves the plain-HTTP listener of the public web PKI:
// issuer certificates at the AIA caIssuers URL (/aia/<issuer>.der), CRL
// shards (/crl/<issuer>/<shard>.crl) and, when enabled, OCSP (/ocsp).
func (s *Server) PublicHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /crl/{issuer}/{file}", s.serveCRL)
	if s.cfg.OCSP {
		m.HandleFunc("POST /ocsp", s.serveOCSP)
		m.HandleFunc("GET /ocsp/", s.serveOCSP)
	}
	m.HandleFunc("GET /aia/{file}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.PathValue("file"), ".der")
		iss, found := s.pki.IssuerByID(id)
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(iss.Cert.Raw)
	})
	return m
}
