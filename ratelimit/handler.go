package ratelimit

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/fakeca/fakeca/acme"
)

// maxBodyBytes caps a management request body.
const maxBodyBytes = 64 << 10

// Handler serves the management API; mount it on the management listener
// for the paths below (it expects them unstripped). Bodies and answers are
// JSON; errors are {"error": "<text>"} with status 400 or 500 (405 for a
// wrong method).
//
//	GET  /rate-limits
//	     200 {"buckets": [BucketState…], "paused": [{"account": 1,
//	         "identifier": {"type": "dns", "value": "a.example"},
//	         "pausedAt": "2026-01-02T03:04:05Z"}…]}
//	     Only buckets that are not full are listed.
//	POST /rate-limits/reset    {} resets every bucket; {"key": "3:12345"} one
//	     bucket; {"limit": "NewOrdersPerAccount", "key": "12345"} one bucket
//	     named as for exhaust.  200 {"reset": <buckets deleted>}
//	POST /rate-limits/exhaust  {"limit": "<Name>", "key": "<id or bucket key>"}
//	     spends the bucket's whole burst (see Exhaust; "limit" may be left out
//	     when "key" is a full bucket key).  200 BucketState
//	POST /rate-limits/pause    {"account": 12345, "identifiers":
//	     [{"type": "dns", "value": "a.example"}]} pauses them at once.
//	     200 {"results": ["paused", …]}
//
// Safe for concurrent use.
func (l *Limiter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rate-limits", l.serveList)
	mux.HandleFunc("POST /rate-limits/reset", l.serveReset)
	mux.HandleFunc("POST /rate-limits/exhaust", l.serveExhaust)
	mux.HandleFunc("POST /rate-limits/pause", l.servePause)
	return mux
}

type pausedJSON struct {
	Account    int64           `json:"account"`
	Identifier acme.Identifier `json:"identifier"`
	PausedAt   string          `json:"pausedAt"`
}

func (l *Limiter) serveList(w http.ResponseWriter, r *http.Request) {
	buckets, err := l.Buckets(r.Context())
	if err != nil {
		writeMgmtError(w, http.StatusInternalServerError, err)
		return
	}
	recs, err := l.pauses.List(r.Context())
	if err != nil {
		writeMgmtError(w, http.StatusInternalServerError, err)
		return
	}
	paused := make([]pausedJSON, 0, len(recs))
	for _, p := range recs {
		paused = append(paused, pausedJSON{p.Account, p.Identifier, p.PausedAt.UTC().Format("2006-01-02T15:04:05Z07:00")})
	}
	writeMgmtJSON(w, http.StatusOK, struct {
		Buckets []BucketState `json:"buckets"`
		Paused  []pausedJSON  `json:"paused"`
	}{buckets, paused})
}

// bucketRequest is the body of reset and exhaust.
type bucketRequest struct {
	Limit string `json:"limit"`
	Key   string `json:"key"`
}

// target resolves a request to a limit and bucket key; an empty limit is
// taken from a full key's prefix.
func (b bucketRequest) target() (Name, string, error) {
	if b.Limit == "" {
		lim, _, ok := parseKeyName(b.Key)
		if !ok {
			return 0, "", errors.New(`give "limit", or a full bucket key such as "3:12345" as "key"`)
		}
		return lim, b.Key, nil
	}
	name, ok := ParseName(b.Limit)
	if !ok {
		return 0, "", errors.New("unknown limit " + b.Limit + " (want one of " + nameList() + ")")
	}
	key, err := bucketKey(name, b.Key)
	return name, key, err
}

func (l *Limiter) serveReset(w http.ResponseWriter, r *http.Request) {
	var req bucketRequest
	if !readMgmtJSON(w, r, &req) {
		return
	}
	key := ""
	if req.Limit != "" || req.Key != "" {
		var err error
		if _, key, err = req.target(); err != nil {
			writeMgmtError(w, http.StatusBadRequest, err)
			return
		}
	}
	n, err := l.Reset(r.Context(), key)
	if err != nil {
		writeMgmtError(w, http.StatusInternalServerError, err)
		return
	}
	writeMgmtJSON(w, http.StatusOK, map[string]int{"reset": n})
}

func (l *Limiter) serveExhaust(w http.ResponseWriter, r *http.Request) {
	var req bucketRequest
	if !readMgmtJSON(w, r, &req) {
		return
	}
	name, key, err := req.target()
	if err != nil {
		writeMgmtError(w, http.StatusBadRequest, err)
		return
	}
	b, err := l.Exhaust(r.Context(), name, key)
	if err != nil {
		writeMgmtError(w, http.StatusBadRequest, err)
		return
	}
	writeMgmtJSON(w, http.StatusOK, b)
}

func (l *Limiter) servePause(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Account     int64             `json:"account"`
		Identifiers []acme.Identifier `json:"identifiers"`
	}
	if !readMgmtJSON(w, r, &req) {
		return
	}
	if req.Account <= 0 || len(req.Identifiers) == 0 {
		writeMgmtError(w, http.StatusBadRequest, errors.New(`"account" (> 0) and "identifiers" are required`))
		return
	}
	res, err := l.PauseIdentifiers(r.Context(), req.Account, req.Identifiers)
	if err != nil {
		writeMgmtError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]string, len(res))
	for i, p := range res {
		out[i] = p.String()
	}
	writeMgmtJSON(w, http.StatusOK, map[string][]string{"results": out})
}

// readMgmtJSON decodes a size-capped, strict JSON body; an empty body is {}.
func readMgmtJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeMgmtError(w, http.StatusBadRequest, errors.New("bad JSON body: "+err.Error()))
		return false
	}
	return true
}

func writeMgmtError(w http.ResponseWriter, status int, err error) {
	writeMgmtJSON(w, status, map[string]string{"error": err.Error()})
}

func writeMgmtJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
