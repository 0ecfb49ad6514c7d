package instance_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"golang.org/x/crypto/acme"

	"github.com/fakeca/fakeca/ca/instance"
)

// e2eXCrypto runs the scenario table with golang.org/x/crypto/acme and an
// ECDSA P-256 account key. Its RSA certificate is revoked with the
// certificate's own key; the others by the account.
func e2eXCrypto(t *testing.T, env *e2eEnv) {
	e2eRunACMECases(t, env, "xcrypto", true, e2eXCryptoOps)
}

// e2eXCryptoOps registers an account at inst and adapts the client.
func e2eXCryptoOps(t *testing.T, inst *instance.Instance) e2eOps {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cl := &acme.Client{Key: key, DirectoryURL: inst.DirectoryURL(), HTTPClient: e2eACMEClient(t, inst)}
	if _, err := cl.Register(e2eContext(t), &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	return e2eOps{
		order: func(ctx context.Context, names []string, profile, replaces string) (e2eOrder, error) {
			if replaces != "" {
				return e2eOrder{}, errors.New("x/crypto/acme cannot send replaces")
			}
			var opts []acme.OrderOption
			if profile != "" {
				opts = append(opts, acme.WithOrderIssuanceProfile(acme.ProfileName(profile)))
			}
			ids := e2eIdents(names, func(typ, v string) acme.AuthzID { return acme.AuthzID{Type: typ, Value: v} })
			o, err := cl.AuthorizeOrder(ctx, ids, opts...)
			if err != nil {
				return e2eOrder{}, err
			}
			return e2eOrder{uri: o.URI, finalize: o.FinalizeURL, authzs: o.AuthzURLs}, nil
		},
		authz: func(ctx context.Context, url string) (e2eAuthz, error) {
			a, err := cl.GetAuthorization(ctx, url)
			if err != nil {
				return e2eAuthz{}, err
			}
			r := e2eAuthz{status: a.Status, identifier: a.Identifier.Value, challenges: map[string]e2eChallenge{}}
			for _, c := range a.Challenges {
				r.challenges[c.Type] = e2eChallenge{url: c.URI, token: c.Token}
				r.problem = errors.Join(r.problem, c.Error)
			}
			return r, nil
		},
		accept: func(ctx context.Context, chalURL string) error {
			_, err := cl.Accept(ctx, &acme.Challenge{URI: chalURL})
			return err
		},
		keyAuth: func(typ, token string) (string, error) {
			if typ == e2eDNS01 {
				return cl.DNS01ChallengeRecord(token)
			}
			return cl.HTTP01ChallengeResponse(token)
		},
		finalize: func(ctx context.Context, finalizeURL string, csr []byte) ([][]byte, error) {
			der, _, err := cl.CreateOrderCert(ctx, finalizeURL, csr, true)
			return der, err
		},
		revoke: func(ctx context.Context, key crypto.Signer, der []byte) error {
			return e2eTapped(ctx, func(ctx context.Context) error { return cl.RevokeCert(ctx, key, der, acme.CRLReasonSuperseded) })
		},
	}
}
