package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/miekg/dns"
)

// dohContentType is the media type of DNS messages over HTTPS (RFC 8484
// §6).
const dohContentType = "application/dns-message"

// headerLen is the size of a DNS message header.
const headerLen = 12

// errNotAnswered marks DNS messages that the UDP and TCP listeners drop
// without a reply; DNS over HTTPS answers them with 400.
var errNotAnswered = errors.New("dns: not a DNS query")

// serveDoH answers DNS over HTTPS as pebble-challtestsrv does: POST only
// (else a bare 405), the body is one DNS message in wire format (RFC 8484
// §4.1; the request's Content-Type is not checked), and the reply is the
// UDP and TCP server's, with Content-Type application/dns-message. A body
// that is no DNS query is a 400 with the reason.
func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, dns.MaxMsgSize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := s.answerWire(body, inbound{userAgent: r.UserAgent()})
	switch {
	case errors.Is(err, errNotAnswered):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		s.log.Error("dnsserver: DNS over HTTPS reply failed", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", dohContentType)
	_, _ = w.Write(out)
}

// answerWire answers one DNS message in wire format with the steps
// dns.Server takes for the UDP and TCP listeners: the header check
// (acceptMsg), FORMERR or NOTIMP for a rejected or unparsable message,
// TSIG verification, respond, and signing the reply. What dns.Server
// drops (no full header, or a response) is errNotAnswered.
func (s *Server) answerWire(b []byte, in inbound) ([]byte, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", errNotAnswered, len(b))
	}
	dh := dns.Header{Id: binary.BigEndian.Uint16(b), Bits: binary.BigEndian.Uint16(b[2:]),
		Qdcount: binary.BigEndian.Uint16(b[4:]), Ancount: binary.BigEndian.Uint16(b[6:]),
		Nscount: binary.BigEndian.Uint16(b[8:]), Arcount: binary.BigEndian.Uint16(b[10:])}
	action := acceptMsg(dh)
	if action == dns.MsgIgnore {
		return nil, fmt.Errorf("%w: the QR bit is set", errNotAnswered)
	}
	req := new(dns.Msg)
	if action != dns.MsgAccept || req.Unpack(b) != nil {
		return rejectReply(dh, action).Pack()
	}
	sig := req.IsTsig()
	if sig != nil {
		in.tsigStatus = dns.TsigVerifyWithProvider(b, s.keys, "", false)
	}
	resp := s.respond(req, in)
	if sig == nil || resp.IsTsig() == nil {
		return resp.Pack()
	}
	out, _, err := dns.TsigGenerateWithProvider(resp, s.keys, sig.MAC, false)
	return out, err
}

// rejectReply is dns.Server's reply to a message it rejects or cannot
// unpack: the header only, FORMERR, or NOTIMP with the request's opcode
// for MsgRejectNotImplemented.
func rejectReply(dh dns.Header, action dns.MsgAcceptAction) *dns.Msg {
	m := new(dns.Msg)
	m.Id, m.Response, m.Rcode = dh.Id, true, dns.RcodeFormatError
	if action == dns.MsgRejectNotImplemented {
		m.Opcode, m.Rcode = int(dh.Bits>>11)&0xF, dns.RcodeNotImplemented
	}
	return m
}
