// Package legotest registers lego v5 clients for fakeca's tests, which
// drive the server with lego as an independent ACME client.
package legotest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"
)

// Options say where a client registers and how it talks.
type Options struct {
	// DirURL is the ACME directory URL.
	DirURL string
	// HTTPClient must trust the server's certificate.
	HTTPClient *http.Client
	// UserAgent names the test in the server's logs.
	UserAgent string
	// Timeout is lego's certificate timeout: it polls an order every
	// Timeout/60.
	Timeout time.Duration
}

// NewClient registers a new ECDSA P-256 account without e-mail and returns
// its client.
func NewClient(ctx context.Context, t testing.TB, o Options) *lego.Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lego.NewConfig(user{key: key})
	cfg.CADirURL, cfg.HTTPClient, cfg.UserAgent = o.DirURL, o.HTTPClient, o.UserAgent
	cfg.Certificate.Timeout = o.Timeout
	cl, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("register: %v", err)
	}
	return cl
}

// user is a registration.User without e-mail.
type user struct{ key crypto.Signer }

func (user) GetEmail() string                           { return "" }
func (user) GetRegistration() *legoacme.ExtendedAccount { return nil }
func (u user) GetPrivateKey() crypto.Signer             { return u.key }
