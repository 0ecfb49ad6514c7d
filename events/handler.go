package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// DefaultQueryLimit is the number of events /events returns when limit=
// is not given.
const DefaultQueryLimit = 100

// maxIdentifierLen bounds identifier=; longer values cannot be DNS names.
const maxIdentifierLen = 512

// Handler serves the journal on the management listener; mount it for the
// path /events (it expects it unstripped). Answers are JSON; errors are
// {"error": "<text>"} with status 400 for a bad query, 404 for another
// path and 405 for a method other than GET or HEAD.
//
//	GET /events?identifier=&account=&order=&kind=&since=&limit=
//	    200 {"events": [Event…], "more": false}
//
// Each parameter is optional and given at most once, and all given must
// match (see Filter): identifier is a DNS name or IP address (a wildcard
// and its base match each other), account and order are IDs, kind is one
// or more comma-separated kinds (or repeated kind=), since is a Seq and
// limit is 1 to the journal's capacity (default 100). Events are oldest
// first. Without since they are the newest matches; with since, the
// oldest ones after it. "more" is true when matches were left out by
// limit: fetch the rest with since=<last seq> (or a larger limit).
// Unknown parameters are errors, so a typo never returns everything.
//
// Safe for concurrent use.
func (j *Journal) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			writeError(w, http.StatusNotFound, errors.New("not found: the events API is GET /events"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, errors.New("method not allowed: use GET"))
			return
		}
		f, err := j.parseQuery(r.URL.Query())
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		limit := f.Limit
		f.Limit++ // one more tells whether matches were left out
		evs := j.Query(f)
		more := len(evs) > limit
		if more && f.Since > 0 {
			evs = evs[:limit]
		} else if more {
			evs = evs[1:]
		}
		writeJSON(w, http.StatusOK, struct {
			Events []Event `json:"events"`
			More   bool    `json:"more"`
		}{evs, more})
	})
}

// parseQuery turns /events query parameters into a Filter with a Limit.
func (j *Journal) parseQuery(q url.Values) (Filter, error) {
	f := Filter{Limit: min(DefaultQueryLimit, int(j.capacity))}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		vals := q[name]
		if name != "kind" && len(vals) > 1 {
			return f, fmt.Errorf("%s: give it at most once", name)
		}
		v := vals[0]
		var err error
		switch name {
		case "identifier":
			if v == "" || len(v) > maxIdentifierLen {
				err = fmt.Errorf("identifier: must be a DNS name or IP address of 1 to %d characters", maxIdentifierLen)
			}
			f.Identifier = v
		case "account":
			f.Account, err = parseID(name, v)
		case "order":
			f.Order, err = parseID(name, v)
		case "since":
			if f.Since, err = strconv.ParseUint(v, 10, 64); err != nil {
				err = errors.New("since: must be a non-negative integer (the seq of an event)")
			}
		case "limit":
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > int(j.capacity) {
				err = fmt.Errorf("limit: must be an integer from 1 to %d", j.capacity)
			}
			f.Limit = n
		case "kind":
			f.Kinds, err = parseKinds(vals)
		default:
			err = fmt.Errorf("unknown query parameter %q (want identifier, account, order, kind, since or limit)", name)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

func parseID(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: must be a positive integer", name)
	}
	return n, nil
}

func parseKinds(vals []string) ([]Kind, error) {
	var kinds []Kind
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			k, ok := ParseKind(strings.TrimSpace(s))
			if !ok {
				return nil, fmt.Errorf("kind: unknown kind %q (want one of %s)", s, kindList())
			}
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
