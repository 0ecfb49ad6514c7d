package dnsserver

import (
	"net"
	"slices"

	"github.com/miekg/dns"
)

// Response sizes: the EDNS(0) payload size advertised (RFC 9715's
// recommendation), the largest honoured from a client, and the room kept
// for the TSIG RR of a signed UDP reply.
const (
	ednsSize     = 1232
	maxUDPSize   = 4096
	tsigReserved = 256
)

var _ dns.Handler = (*Server)(nil)

// ServeDNS implements dns.Handler for both transports. A panic while
// answering becomes SERVFAIL and a log line, never a crash.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	resp := s.respond(req, inbound{tsigStatus: w.TsigStatus(), udp: udp})
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("dnsserver: writing DNS response failed", "error", err)
	}
}

// inbound is what the transport knows about a request besides its
// message.
type inbound struct {
	// tsigStatus is miekg/dns's verdict on the request's TSIG (nil when
	// valid or absent).
	tsigStatus error
	// udp truncates the reply to the client's UDP payload size.
	udp bool
	// userAgent is a DNS-over-HTTPS request's User-Agent, for the History.
	userAgent string
}

// respond computes the reply to a request that passed acceptMsg. It never
// returns nil.
//
// A correctly signed UPDATE for a zone this server does not serve gets an
// unsigned NOTAUTH: miekg/dns clients such as cert-manager report every
// signed NOTAUTH reply as "dns: bad authentication", which would hide the
// real cause; unsigned, cert-manager shows "DNS update failed. Server
// replied: NOTAUTH". Every other reply to a signed request is signed.
func (s *Server) respond(req *dns.Msg, in inbound) (resp *dns.Msg) {
	resp = new(dns.Msg)
	resp.SetReply(req)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("dnsserver: DNS handler panicked", "panic", p)
			resp = new(dns.Msg)
			resp.SetRcode(req, dns.RcodeServerFailure)
		}
	}()
	sig := req.IsTsig()
	// miekg/dns accepts a header whose QDCOUNT overstates the questions.
	if len(req.Question) != 1 || misplacedTSIG(req) {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	if sig != nil && in.tsigStatus != nil {
		code := tsigError(in.tsigStatus)
		s.log.Warn("dnsserver: TSIG check failed", "tsigKey", sig.Hdr.Name, "tsigError", dns.RcodeToString[int(code)])
		resp.Rcode = dns.RcodeNotAuth
		signReply(resp, sig, code, s.clock.Now().Unix())
		return resp
	}
	opt := req.IsEdns0()
	switch {
	case opt != nil && opt.Version() != 0:
		resp.Rcode = dns.RcodeBadVers
	case req.Opcode == dns.OpcodeQuery:
		s.query(req, resp, in.userAgent)
	case req.Opcode == dns.OpcodeUpdate:
		res := s.update(req, keyName(sig))
		s.logUpdate(res, req, sig)
		resp.Rcode = res.rcode
		if res.rcode == dns.RcodeNotAuth {
			sig = nil // see below
		}
	default:
		resp.Rcode = dns.RcodeNotImplemented
	}
	s.finish(resp, opt, sig, in.udp)
	return resp
}

// finish adds the OPT record, truncates a UDP reply to what the client can
// receive (RFC 6891 §7) and appends the TSIG RR for a signed request.
func (s *Server) finish(resp *dns.Msg, opt *dns.OPT, sig *dns.TSIG, udp bool) {
	size := dns.MinMsgSize
	if opt != nil {
		resp.SetEdns0(ednsSize, false)
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
	}
	switch {
	case !udp:
	case sig == nil:
		resp.Truncate(size)
	case resp.Len() > size-tsigReserved:
		// dns.Msg.Truncate skips signed messages and never goes below 512
		// bytes: send just the header (TC set) so the client retries over TCP.
		resp.Answer, resp.Ns, resp.Truncated = nil, nil, true
		resp.Extra = slices.DeleteFunc(resp.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeOPT })
	}
	if sig != nil {
		signReply(resp, sig, dns.RcodeSuccess, s.clock.Now().Unix())
	}
}

// logUpdate writes the one log line of an UPDATE.
func (s *Server) logUpdate(res updateResult, req *dns.Msg, sig *dns.TSIG) {
	s.log.Info("dnsserver: update", "zone", res.zone, "tsigKey", keyName(sig), "rcode", dns.RcodeToString[res.rcode],
		"changes", len(req.Ns), "changed", res.changed)
}

// keyName is the verified key of a request, "" for an unsigned one.
func keyName(sig *dns.TSIG) string {
	if sig == nil {
		return ""
	}
	return canonical(sig.Hdr.Name)
}

// misplacedTSIG reports a TSIG RR anywhere but last in Additional (RFC
// 8945 §5.1: FORMERR).
func misplacedTSIG(m *dns.Msg) bool {
	for _, rr := range slices.Concat(m.Answer, m.Ns) {
		if rr.Header().Rrtype == dns.TypeTSIG {
			return true
		}
	}
	for i, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(m.Extra)-1 {
			return true
		}
	}
	return false
}

// acceptMsg is the dns.Server's MsgAcceptFunc: responses are dropped,
// QUERY and UPDATE with one question (zone) are accepted, other opcodes
// get NOTIMP and odd section counts FORMERR.
func acceptMsg(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	switch opcode := int(dh.Bits>>11) & 0xF; {
	case opcode != dns.OpcodeQuery && opcode != dns.OpcodeUpdate:
		return dns.MsgRejectNotImplemented
	case dh.Qdcount != 1:
		return dns.MsgReject
	case opcode == dns.OpcodeQuery && (dh.Ancount > 1 || dh.Nscount > 1 || dh.Arcount > 2):
		return dns.MsgReject
	}
	return dns.MsgAccept
}
