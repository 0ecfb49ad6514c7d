package ca

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/fakeca/fakeca/ca/pki"
	"github.com/fakeca/fakeca/store"
)

// CRL publication. Boulder's crl-updater regenerates every shard on a
// period (< 24 h) and the CDN caches it; fakeca builds a shard on demand,
// keeps it while its content is unchanged and younger than crlRefresh, and
// lists a revocation only once CRLPublishDelay has passed since it (0 by
// default: at once). A revoked certificate stays listed until it has
// appeared in one CRL after its expiry, as Boulder's lookback guarantees.
const (
	crlRefresh      = 6 * time.Hour // LE's production period is unpublished (reference §5.2)
	maxOCSPGetBytes = 4096
)

// crlCache holds the last CRL built per shard. Safe for concurrent use;
// the lock guards only the map, never I/O or signing.
type crlCache struct {
	mu     sync.Mutex
	shards map[string]*builtCRL
}

type builtCRL struct {
	der        []byte
	thisUpdate time.Time
	serials    string // the listed serials, joined: the content's identity
}

// serveCRL answers GET /crl/<issuer>/<shard>.crl.
func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request) {
	shard, err := strconv.Atoi(strings.TrimSuffix(r.PathValue("file"), ".crl"))
	issuer := r.PathValue("issuer")
	if _, ok := s.pki.IssuerByID(issuer); !ok || err != nil || !strings.HasSuffix(r.PathValue("file"), ".crl") ||
		shard < 1 || shard > s.pki.CRLShards() {
		http.NotFound(w, r)
		return
	}
	crl, err := s.currentCRL(r.Context(), issuer, shard)
	if err != nil {
		s.log.Error("building CRL", "issuer", issuer, "shard", shard, "err", err)
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pkix-crl")
	h.Set("Last-Modified", crl.thisUpdate.UTC().Format(http.TimeFormat))
	h.Set("Cache-Control", "public, max-age=60")
	http.ServeContent(w, r, "", crl.thisUpdate, bytes.NewReader(crl.der))
}

// currentCRL returns the cached CRL of a shard, or builds a new one when
// the publishable revocations changed or the cached one is too old.
func (s *Server) currentCRL(ctx context.Context, issuer string, shard int) (builtCRL, error) {
	key := issuer + "/" + strconv.Itoa(shard)
	now := s.clock.Now().UTC()
	s.crls.mu.Lock()
	prev, ok := s.crls.shards[key]
	s.crls.mu.Unlock()
	// Certificates that expired before the previous CRL were listed in it
	// at least once after expiry; they may drop out now.
	var since time.Time
	if ok {
		since = prev.thisUpdate
	}
	certs, err := s.store.RevokedCertificates(ctx, issuer, shard, since)
	if err != nil {
		return builtCRL{}, err
	}
	entries, ids := publishable(certs, now, s.cfg.CRLPublishDelay)
	if ok && prev.serials == ids && now.Sub(prev.thisUpdate) < crlRefresh {
		return *prev, nil
	}
	// CRL times have one-second precision; the check above used the exact
	// time so a revocation made this very second is already listed.
	thisUpdate := now.Truncate(time.Second)
	der, err := s.pki.CRL(issuer, shard, entries, thisUpdate, s.cfg.CRLValidity)
	if err != nil {
		return builtCRL{}, err
	}
	built := &builtCRL{der: der, thisUpdate: thisUpdate, serials: ids}
	s.crls.mu.Lock()
	if s.crls.shards == nil {
		s.crls.shards = map[string]*builtCRL{}
	}
	s.crls.shards[key] = built
	s.crls.mu.Unlock()
	return *built, nil
}

// publishable keeps the revocations at least delay old.
func publishable(certs []store.Certificate, now time.Time, delay time.Duration) ([]pki.RevokedEntry, string) {
	var entries []pki.RevokedEntry
	var ids strings.Builder
	for _, c := range certs {
		if now.Before(c.RevokedAt.Add(delay)) {
			continue
		}
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			continue
		}
		entries = append(entries, pki.RevokedEntry{Serial: serial, RevokedAt: c.RevokedAt, Reason: c.Reason})
		ids.WriteString(c.Serial)
		ids.WriteString(strconv.Itoa(c.Reason))
	}
	return entries, ids.String()
}

// serveOCSP answers RFC 6960 requests: POST with a DER body, or GET with
// the base64 request in the path.
func (s *Server) serveOCSP(w http.ResponseWriter, r *http.Request) {
	var req []byte
	var err error
	if r.Method == http.MethodPost {
		req, err = io.ReadAll(io.LimitReader(r.Body, maxOCSPGetBytes))
	} else {
		raw := strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/")
		if unescaped, uerr := url.PathUnescape(raw); uerr == nil {
			raw = unescaped
		}
		req, err = base64.StdEncoding.DecodeString(raw)
	}
	resp := ocsp.MalformedRequestErrorResponse
	if err == nil {
		resp, err = s.pki.OCSPResponse(req, s.ocspLookup(r.Context()), s.clock.Now())
		if err != nil {
			s.log.Error("OCSP response", "err", err)
			resp = ocsp.InternalErrorErrorResponse
		}
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "public, max-age=3600, no-transform")
	_, _ = w.Write(resp)
}

func (s *Server) ocspLookup(ctx context.Context) func(string, *big.Int) (pki.OCSPStatus, bool) {
	return func(issuer string, serial *big.Int) (pki.OCSPStatus, bool) {
		c, err := s.store.GetCertificate(ctx, pki.SerialString(serial))
		if err != nil || c.IssuerID != issuer {
			return pki.OCSPStatus{}, false
		}
		return pki.OCSPStatus{Revoked: c.Revoked, RevokedAt: c.RevokedAt, Reason: c.Reason}, true
	}
}
