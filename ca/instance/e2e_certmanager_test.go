package instance_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	cmacme "github.com/cert-manager/cert-manager/third_party/forked/acme"

	"github.com/fakeca/fakeca/ca/instance"
)

// e2eCertManager runs the scenario table with cert-manager's fork of
// x/crypto/acme, called the way cert-manager calls it (reference
// cert-manager.md §2): RSA-2048 account key, account looked up by key
// (onlyReturnExisting), GetChallenge before Accept, profiles, and ARI
// renewal with "replaces".
func e2eCertManager(t *testing.T, env *e2eEnv) {
	e2eRunACMECases(t, env, "certmanager", false, e2eCMOpsAt,
		e2eSubtest{"ari-renewal", func(t *testing.T) { e2eCMRenewal(t, env) }})
}

// e2eCMRenewal issues a certificate, reads its ARI window, renews it with
// "replaces" (the authorization is reused), checks the new order echoes
// the certID and that a second replacement is refused as alreadyReplaced.
func e2eCMRenewal(t *testing.T, env *e2eEnv) {
	ctx := e2eContext(t)
	cl := e2eCMClient(t, env.ca)
	ops := e2eCMOps(cl)
	c := e2eCase{names: []string{"renew.certmanager.test"}, challenge: e2eHTTP01, profile: "tlsserver"}
	first := e2eIssue(ctx, t, env, ops, c, "")
	leaf := e2eCheckIssued(t, env.ca, c, first.der)

	ri, err := cl.GetRenewalInfo(ctx, leaf)
	if err != nil {
		t.Fatalf("renewal-info: %v", err)
	}
	e2eCheckARIWindow(t, leaf, ri.SuggestedWindow.Start, ri.SuggestedWindow.End)
	if ri.RetryAfter < 17280*time.Second || ri.RetryAfter > 25920*time.Second {
		t.Errorf("renewal-info Retry-After %s, want 6h ± 20%%", ri.RetryAfter)
	}

	certID, err := cmacme.CertificateARIID(leaf)
	if err != nil {
		t.Fatal(err)
	}
	second := e2eIssue(ctx, t, env, ops, c, certID)
	e2eCheckIssued(t, env.ca, c, second.der)
	e2eCheckOrder(ctx, t, env.ca, second.order.uri, c.profile, certID)

	_, err = ops.order(ctx, c.names, c.profile, certID)
	if got := e2eProblemType(err); got != e2eAlreadyReplaced {
		t.Errorf("second replacement of %s: %v (type %q), want %s", certID, err, got, e2eAlreadyReplaced)
	}
}

func e2eCMOpsAt(t *testing.T, inst *instance.Instance) e2eOps { return e2eCMOps(e2eCMClient(t, inst)) }

// e2eCMClient registers an RSA-2048 account at inst, then looks it up by
// key as cert-manager does before using it.
func e2eCMClient(t *testing.T, inst *instance.Instance) *cmacme.Client {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cl := &cmacme.Client{Key: key, DirectoryURL: inst.DirectoryURL(), HTTPClient: e2eACMEClient(t, inst),
		UserAgent: "fakeca-e2e"}
	ctx := e2eContext(t)
	if _, err := cl.Register(ctx, &cmacme.Account{Contact: []string{"mailto:e2e@example.com"}}, cmacme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	if acct, err := cl.GetReg(ctx, ""); err != nil || acct.URI == "" {
		t.Fatalf("account look-up by key: %v", err)
	}
	return cl
}

// e2eCMOps adapts the fork to the shared flow.
func e2eCMOps(cl *cmacme.Client) e2eOps {
	return e2eOps{
		order: func(ctx context.Context, names []string, profile, replaces string) (e2eOrder, error) {
			var opts []cmacme.OrderOption
			if profile != "" {
				opts = append(opts, cmacme.WithOrderProfile(profile))
			}
			if replaces != "" {
				opts = append(opts, cmacme.WithOrderReplacesCertID(replaces))
			}
			o, err := cl.AuthorizeOrder(ctx, e2eIdents(names, func(typ, v string) cmacme.AuthzID {
				return cmacme.AuthzID{Type: typ, Value: v}
			}), opts...)
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
			chals := make(map[string]e2eChallenge, len(a.Challenges))
			var problems []error
			for _, c := range a.Challenges {
				chals[c.Type] = e2eChallenge{url: c.URI, token: c.Token}
				problems = append(problems, c.Error)
			}
			return e2eAuthz{a.Status, a.Identifier.Value, errors.Join(problems...), chals}, nil
		},
		accept: func(ctx context.Context, chalURL string) error {
			ch, err := cl.GetChallenge(ctx, chalURL)
			if err == nil {
				_, err = cl.Accept(ctx, ch)
			}
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
			return e2eTapped(ctx, func(ctx context.Context) error {
				return cl.RevokeCert(ctx, key, der, cmacme.CRLReasonCessationOfOperation)
			})
		},
	}
}
