package ca

import (
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
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
	writePEM(w, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: roots[n].Raw}))
}

func (s *Server) mgmtIntermediate(w http.ResponseWriter, r *http.Request) {
	issuers := s.pki.Issuers()
	n, _ := strconv.Atoi(mux.Vars(r)["n"])
	if n >= len(issuers) {
		s.writeError(w, r, acme.New(acme.NotFound, detailNotFoundPage))
		return
	}
	writePEM(w, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuers[n].Cert.Raw}))
}

func writePEM(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(b)
}

// PublicHandler serves the plain-HTTP listener of the public web PKI:
// issuer certificates at the AIA caIssuers URL (/aia/<issuer>.der). Later
// issues add CRLs and OCSP here.
func (s *Server) PublicHandler() http.Handler {
	m := http.NewServeMux()
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
