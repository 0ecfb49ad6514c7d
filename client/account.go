package client

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// Account is what the server says about the client's account.
type Account struct {
	URL       string   `json:"url"`
	Status    string   `json:"status"`
	Contact   []string `json:"contact,omitempty"`
	OrdersURL string   `json:"orders,omitempty"`
}

func accountOf(a *acme.Account) Account {
	return Account{URL: a.URI, Status: a.Status, Contact: a.Contact, OrdersURL: a.OrdersURL}
}

// Register finds or creates the account of the client's key, agreeing to
// the terms of service, with Config.Contact. created is false when the key
// already had an account (the server answered 200), which is then looked
// up with onlyReturnExisting, as cert-manager does.
func (c *Client) Register(ctx context.Context) (acct Account, created bool, err error) {
	start := c.clock.Now()
	defer func() {
		msg := "account registered " + acct.URL
		if !created {
			msg = "account exists " + acct.URL
		}
		c.report(Step{Name: "account", Message: msg, URL: acct.URL, Err: err}, start)
	}()
	if _, err = c.Directory(ctx); err != nil {
		return Account{}, false, err
	}
	a, err := c.acme.Register(ctx, &acme.Account{Contact: c.cfg.Contact}, acme.AcceptTOS)
	switch {
	case errors.Is(err, acme.ErrAccountAlreadyExists):
		if a, err = c.acme.GetReg(ctx, ""); err != nil {
			return Account{}, false, fmt.Errorf("account lookup: %w", err)
		}
		return accountOf(a), false, nil
	case err != nil:
		return Account{}, false, fmt.Errorf("new account: %w", err)
	}
	return accountOf(a), true, nil
}

// Account looks up the existing account of the client's key without
// creating one (onlyReturnExisting); ErrNoAccount if there is none.
func (c *Client) Account(ctx context.Context) (Account, error) {
	start := c.clock.Now()
	a, err := c.acme.GetReg(ctx, "")
	if err != nil {
		err = fmt.Errorf("account lookup: %w", err)
		c.report(Step{Name: "account", Err: err}, start)
		return Account{}, err
	}
	c.acme.KID = acme.KeyID(a.URI)
	c.report(Step{Name: "account", Message: "account found " + a.URI, URL: a.URI}, start)
	return accountOf(a), nil
}

// Deactivate permanently deactivates the account (RFC 8555 §7.3.6).
func (c *Client) Deactivate(ctx context.Context) error {
	start := c.clock.Now()
	err := c.acme.DeactivateReg(ctx)
	if err != nil {
		err = fmt.Errorf("deactivate account: %w", err)
	}
	c.report(Step{Name: "deactivate", Message: "account deactivated " + c.AccountURL(), URL: c.AccountURL(), Err: err}, start)
	return err
}

// ChangeKey rolls the account over to newKey (RFC 8555 §7.3.5). On
// success the client signs with newKey from then on; the caller must
// store it, or the account is lost.
func (c *Client) ChangeKey(ctx context.Context, newKey crypto.Signer) error {
	start := c.clock.Now()
	if _, err := jwsAlgorithm(newKey); err != nil {
		return err
	}
	err := c.acme.AccountKeyRollover(ctx, newKey)
	if err != nil {
		err = fmt.Errorf("key change: %w", err)
	} else {
		c.jws.setKey(newKey)
	}
	c.report(Step{Name: "key-change", Message: "account key changed " + c.AccountURL(), URL: c.AccountURL(), Err: err}, start)
	return err
}
