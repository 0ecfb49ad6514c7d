package ca

import (
	"bytes"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/store"
)

// Certificate download texts (Boulder wfe2/wfe.go Certificate).
const (
	detailNoSuchCert    = "Certificate not found"
	detailNoSuchChain   = "Unknown issuance chain"
	detailBadSerialPath = "Invalid serial"
)

// certificate serves /acme/cert/<serial>[/<n>] as
// application/pem-certificate-chain: the leaf and chain n (0, the default,
// when absent), with Link rel="alternate" for every other chain. Like
// Boulder, any requester may fetch any certificate.
func (s *Server) certificate(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		if _, err := s.verifyPostAsGet(r); err != nil {
			return err
		}
	}
	vars := mux.Vars(r)
	serial := vars["serial"]
	if len(serial) != 36 {
		return acme.New(acme.NotFound, detailBadSerialPath)
	}
	eventFrom(r).serial = serial
	cert, err := s.store.GetCertificate(r.Context(), serial)
	if errors.Is(err, store.ErrNotFound) {
		return acme.New(acme.NotFound, detailNoSuchCert)
	}
	if err != nil {
		return err
	}
	chains := s.pki.Chains(cert.IssuerID)
	n := 0
	if v, ok := vars["chain"]; ok {
		n, _ = strconv.Atoi(v)
	}
	if n >= len(chains) {
		return acme.New(acme.NotFound, detailNoSuchChain)
	}
	l := s.linkerFor(r)
	for i := range chains {
		if i != n {
			w.Header().Add("Link", link(l.certChain(serial, i), "alternate"))
		}
	}
	var buf bytes.Buffer
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: cert.DER})
	for _, c := range chains[n] {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}
