package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/acme"
)

// signedPost posts payload as an ES256 JWS with an embedded JWK and a
// fresh nonce from newNonce, returning the status and body.
func signedPost(t *testing.T, r *pebbleRig, key *ecdsa.PrivateKey, url string, payload any) (int, []byte) {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	pad := func(n *big.Int) string { return b64(n.FillBytes(make([]byte, 32))) }
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": pad(key.X), "y": pad(key.Y)}
	code, b, _ := postJWS(t, r, key, map[string]any{"jwk": jwk}, url, payload)
	return code, b
}

// postJWS posts payload (nil: POST-as-GET) as an ES256 JWS whose
// protected header is hdr plus alg, a fresh nonce and url, and returns the
// status, body and headers.
func postJWS(t *testing.T, r *pebbleRig, key *ecdsa.PrivateKey, hdr map[string]any, url string, payload any) (int, []byte, http.Header) {
	t.Helper()
	resp, err := r.http.Head(r.acme + "/nonce-plz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce := resp.Header.Get("Replay-Nonce")
	if nonce == "" {
		t.Fatalf("no nonce: %s", resp.Status)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	prot := map[string]any{"alg": "ES256", "nonce": nonce, "url": url}
	for k, v := range hdr {
		prot[k] = v
	}
	protJSON, _ := json.Marshal(prot)
	var pl []byte
	if payload != nil {
		pl, _ = json.Marshal(payload)
	}
	signing := b64(protJSON) + "." + b64(pl)
	h := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := append(rr.FillBytes(make([]byte, 32)), ss.FillBytes(make([]byte, 32))...)
	body, _ := json.Marshal(map[string]string{"protected": b64(protJSON), "payload": b64(pl), "signature": b64(sig)})
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/jose+json")
	req.Header.Set("User-Agent", "fakeca-pebble-test")
	resp, err = r.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// TestPebbleOrdersList pages through /list-orderz/ with
// PEBBLE_WFE_ORDERS_PER_PAGE=2: the account names its list, pages hold
// two order URLs oldest first and link the next page.
func TestPebbleOrdersList(t *testing.T) {
	r := startPebbleRig(t, nil, pebbleEnv("PEBBLE_WFE_ORDERS_PER_PAGE=2"))
	cl := r.client(t)
	ctx := context.Background()
	acct, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(acct.OrdersURL, r.acme+"/list-orderz/") {
		t.Fatalf("account orders URL %q, want Pebble's /list-orderz/", acct.OrdersURL)
	}
	var want []string
	for i := range 3 {
		o, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(fmt.Sprintf("o%d.example.test", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, o.URI)
	}
	key := cl.Key.(*ecdsa.PrivateKey)
	var got []string
	for url, page := acct.OrdersURL, 1; url != ""; page++ {
		code, b, h := postJWS(t, r, key, map[string]any{"kid": acct.URI}, url, nil)
		var list struct{ Orders []string }
		if code != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Orders) != min(2, 3-len(got)) {
			t.Fatalf("page %d: %d %s", page, code, b)
		}
		got, url = append(got, list.Orders...), ""
		for _, l := range h.Values("Link") {
			if strings.Contains(l, `rel="next"`) {
				url = l[strings.Index(l, "<")+1 : strings.Index(l, ">")]
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("listed %q, want %q", got, want)
	}
}

// TestPebbleNonceRejectPartial: PEBBLE_WFE_NONCEREJECT=50 rejects roughly
// half of validly signed POSTs with fresh nonces, and 0 rejects none.
func TestPebbleNonceRejectPartial(t *testing.T) {
	for _, tc := range []struct {
		percent  string
		min, max int // badNonce count out of 40
	}{{"50", 8, 32}, {"0", 0, 0}} {
		t.Run(tc.percent, func(t *testing.T) {
			r := startPebbleRig(t, nil, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=" + tc.percent})
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			const posts = 40
			bad := 0
			for range posts {
				code, b := signedPost(t, r, key, r.acme+"/sign-me-up", map[string]any{"termsOfServiceAgreed": true})
				switch {
				case strings.Contains(string(b), "urn:ietf:params:acme:error:badNonce"):
					bad++
				case code != http.StatusOK && code != http.StatusCreated:
					t.Fatalf("unexpected answer %d %s", code, b)
				}
			}
			if bad < tc.min || bad > tc.max {
				t.Fatalf("badNonce %d of %d, want %d..%d", bad, posts, tc.min, tc.max)
			}
			t.Logf("badNonce %s of %d", fmt.Sprint(bad), posts)
		})
	}
}

// socketInodes returns the inodes of pid's open sockets.
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out
}

// procSockets counts pid's sockets in /proc/<pid>/net/<file> (in state
// st, or any state when st is ""), returning their local addresses.
func procSockets(t *testing.T, pid int, inodes map[string]bool, file, st string) []string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
	if err != nil {
		return nil // e.g. no IPv6
	}
	var out []string
	for i, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 10 || !inodes[f[9]] {
			continue
		}
		if st == "" || f[3] == st {
			out = append(out, file+" "+f[1])
		}
	}
	return out
}

// TestPebbleOnlyConfiguredListeners: with only listenAddress configured,
// the process has exactly one listening TCP socket and no UDP socket.
func TestPebbleOnlyConfiguredListeners(t *testing.T) {
	bin := fakecaBinary(t)
	dir := t.TempDir()
	writeServingCert(t, dir)
	port := freePort(t)
	cfg := fmt.Sprintf(`{"pebble":{"listenAddress":%q,"certificate":"certs/localhost/cert.pem","privateKey":"certs/localhost/key.pem"}}`, addr(port))
	if err := os.WriteFile(filepath.Join(dir, "pebble.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, bin, "pebble", dir, pebbleEnv(), addr(port), "-config", "pebble.json")
	pid := p.cmd.Process.Pid
	inodes := socketInodes(t, pid)
	var listening, udp []string
	for _, f := range []string{"tcp", "tcp6"} {
		listening = append(listening, procSockets(t, pid, inodes, f, "0A")...)
	}
	for _, f := range []string{"udp", "udp6"} {
		udp = append(udp, procSockets(t, pid, inodes, f, "")...)
	}
	if want := fmt.Sprintf("tcp 0100007F:%04X", port); len(listening) != 1 || listening[0] != want {
		t.Errorf("listening TCP sockets %v, want [%s]", listening, want)
	}
	if len(udp) != 0 {
		t.Errorf("UDP sockets %v, want none", udp)
	}
}

// TestPebbleSetRenewalInfo: Pebble's management POST /set-renewal-info/
// overrides the certificate's renewal-info answer, served as given.
func TestPebbleSetRenewalInfo(t *testing.T) {
	r := startPebbleRig(t, nil, pebbleEnv("PEBBLE_VA_ALWAYS_VALID=1"))
	cl := r.client(t)
	ctx := context.Background()
	if _, err := cl.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatal(err)
	}
	chain, _, _ := r.issue(t, cl, "ari.example.test", "http-01")
	leaf, _ := x509.ParseCertificate(chain[0])
	var dir struct{ RenewalInfo string }
	resp, err := r.http.Get(r.acme + "/dir")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir.RenewalInfo == "" {
		t.Fatalf("directory: %+v %v", dir, err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	ariURL := strings.TrimSuffix(dir.RenewalInfo, "/") + "/" + b64(leaf.AuthorityKeyId) + "." + b64(leaf.SerialNumber.Bytes())
	const override = `{"suggestedWindow":{"start":"2000-01-01T00:00:00Z","end":"2000-01-02T00:00:00Z"}}`
	body, _ := json.Marshal(map[string]string{"Certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0]})),
		"ARIResponse": override})
	req, _ := http.NewRequest(http.MethodPost, r.mgmt+"/set-renewal-info/", bytes.NewReader(body))
	req.Header.Set("User-Agent", "fakeca-pebble-test")
	resp, err = r.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set-renewal-info: %s", resp.Status)
	}
	resp, err = r.http.Get(ariURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(got) != override || resp.Header.Get("Retry-After") != "21600" {
		t.Fatalf("renewal-info: %s %q Retry-After %q", resp.Status, got, resp.Header.Get("Retry-After"))
	}
}
