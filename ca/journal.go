package ca

import (
	"errors"

	"github.com/fakeca/fakeca/acme"
	"github.com/fakeca/fakeca/events"
	"github.com/fakeca/fakeca/ratelimit"
)

// Journal receives the events a user reads when troubleshooting;
// *events.Journal is the real one. Append must not block.
type Journal interface {
	Append(ev events.Event) uint64
}

var _ Journal = (*events.Journal)(nil)

// noJournal drops events, for a server built without a journal.
type noJournal struct{}

func (noJournal) Append(events.Event) uint64 { return 0 }

// record appends ev; with err it carries the problem the client saw.
func (s *Server) record(ev events.Event, err error) {
	if err != nil {
		ev.Problem = events.ProblemFrom(err)
	}
	s.journal.Append(ev)
}

// recordRejection journals a refused request whose error is a rate limit
// (which users most need to find later) under kind RateLimited, and other
// ACME errors under kind, if kind is set.
func (s *Server) recordRejection(kind events.Kind, ev events.Event, err error) {
	if errors.Is(err, acme.RateLimited) {
		kind, ev.Limit = events.RateLimited, ratelimit.LimitOf(err)
	}
	if _, ok := acme.As(err); !ok || kind == "" {
		return
	}
	ev.Kind = kind
	s.record(ev, err)
}
