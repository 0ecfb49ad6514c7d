package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
	jose "github.com/go-jose/go-jose/v4"
)

// maxResponseBytes caps the JSON bodies the poster reads.
const maxResponseBytes = 1 << 20

// poster makes the signed requests the fork cannot make for us without
// wall-clock waits or lost fields (see the package doc): KID-form POST and
// POST-as-GET with its own nonce, retrying badNonce like nonceBackoff.
// Safe for concurrent use.
type poster struct {
	httpc     *http.Client
	wait      func(context.Context, time.Duration) error
	userAgent string

	mu    sync.Mutex
	key   crypto.Signer // the account key; replaced after a key change
	nonce string        // the last Replay-Nonce seen, "" if used
}

// jwsAlgorithm is the JWS algorithm for an account key, as the fork picks
// it: RS256 for RSA, ES256/384/512 by curve.
func jwsAlgorithm(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return jose.RS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	}
	return "", fmt.Errorf("client: account key %T is not RSA or ECDSA P-256/P-384/P-521", key)
}

// setKey replaces the signing key after an account key change.
func (p *poster) setKey(key crypto.Signer) {
	p.mu.Lock()
	p.key = key
	p.mu.Unlock()
}

// post signs payload (nil for POST-as-GET) in KID form and POSTs it to
// url. It returns the body of a 2xx response, or the server's problem as
// an *acme.Error.
func (p *poster) post(ctx context.Context, nonceURL, url, kid string, payload []byte) ([]byte, http.Header, error) {
	for n := 1; ; n++ {
		body, h, err := p.postOnce(ctx, nonceURL, url, kid, payload)
		var ae *acme.Error
		if err == nil || !errors.As(err, &ae) || !strings.HasSuffix(strings.ToLower(ae.ProblemType), ":badnonce") {
			return body, h, err
		}
		d := NonceRetryDelay(n, time.Duration(rand.Int64N(int64(time.Second))))
		if d < 0 {
			return nil, h, err
		}
		if werr := p.wait(ctx, d); werr != nil {
			return nil, h, err
		}
	}
}

func (p *poster) postOnce(ctx context.Context, nonceURL, url, kid string, payload []byte) ([]byte, http.Header, error) {
	nonce, err := p.takeNonce(ctx, nonceURL)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	alg, err := jwsAlgorithm(key)
	if err != nil {
		return nil, nil, err
	}
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid).WithHeader("nonce", nonce).WithHeader("url", url)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return nil, nil, err
	}
	if payload == nil {
		payload = []byte{}
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(sig.FullSerialize()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/jose+json")
	req.Header.Set("User-Agent", p.userAgent)
	res, err := p.httpc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	p.keepNonce(res.Header.Get("Replay-Nonce"))
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, res.Header, fmt.Errorf("reading %s: %w", url, err)
	}
	if res.StatusCode/100 != 2 {
		return nil, res.Header, problemFromBody(res.StatusCode, res.Header, body)
	}
	return body, res.Header, nil
}

// takeNonce returns the kept nonce or fetches one with HEAD newNonce.
func (p *poster) takeNonce(ctx context.Context, nonceURL string) (string, error) {
	p.mu.Lock()
	n := p.nonce
	p.nonce = ""
	p.mu.Unlock()
	if n != "" {
		return n, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, nonceURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", p.userAgent)
	res, err := p.httpc.Do(req)
	if err != nil {
		return "", err
	}
	_ = res.Body.Close()
	if n = res.Header.Get("Replay-Nonce"); n == "" {
		return "", fmt.Errorf("newNonce %s: %s without a Replay-Nonce", nonceURL, res.Status)
	}
	return n, nil
}

func (p *poster) keepNonce(n string) {
	if n == "" {
		return
	}
	p.mu.Lock()
	p.nonce = n
	p.mu.Unlock()
}

// problemJSON is an RFC 7807 problem document with ACME's subproblems.
type problemJSON struct {
	Type        string `json:"type"`
	Detail      string `json:"detail"`
	Subproblems []struct {
		Type       string        `json:"type"`
		Detail     string        `json:"detail"`
		Identifier *acme.AuthzID `json:"identifier"`
	} `json:"subproblems"`
}

// problemFromBody turns an error response into the fork's *acme.Error, so
// callers see one error type whichever engine made the request.
func problemFromBody(status int, h http.Header, body []byte) error {
	var p problemJSON
	e := &acme.Error{StatusCode: status, Header: h}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&p); err != nil {
		e.Detail = strings.TrimSpace(string(body))
		if e.Detail == "" {
			e.Detail = http.StatusText(status)
		}
		return e
	}
	e.ProblemType, e.Detail = p.Type, p.Detail
	for _, sp := range p.Subproblems {
		e.Subproblems = append(e.Subproblems, acme.Subproblem{Type: sp.Type, Detail: sp.Detail, Identifier: sp.Identifier})
	}
	return e
}
