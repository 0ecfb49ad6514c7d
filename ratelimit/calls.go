package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fakeca/fakeca/acme"
)

// NewAccount checks and spends the registration limits of a new account
// from client IP ip: NewRegistrationsPerIPAddress and, for IPv6,
// NewRegistrationsPerIPv6Range (Boulder's checkNewAccountLimits). Call it
// after the existing-key lookup, the terms-of-service and contact checks,
// right before creating the account; call refund if the account is then
// not created. An existing key's account (200) must not reach it.
//
// err is nil or an *acme.Error (429 rateLimited with RetryAfter). If the
// Source fails, the request is let through and a warning logged. refund is
// never nil and is safe to call more than once.
func (l *Limiter) NewAccount(ctx context.Context, ip netip.Addr) (refund func(), err error) {
	var txns []txn
	if ip.IsValid() {
		ip = ip.Unmap().WithZone("")
		key := NewRegistrationsPerIPAddress.prefix() + ip.String()
		txns = l.add(txns, NewRegistrationsPerIPAddress, key, key, modeCheckAndSpend)
		if ip.Is6() {
			p, _ := ip.Prefix(48)
			key = NewRegistrationsPerIPv6Range.prefix() + p.String()
			txns = l.add(txns, NewRegistrationsPerIPv6Range, key, key, modeCheckAndSpend)
		}
	}
	return l.checkAndSpend(ctx, txns)
}

// NewOrderRequest is what NewOrder needs to know about a new-order request.
// Plain data apart from the optional Replaces hook; the zero value is an
// order of account 0 for no identifiers.
type NewOrderRequest struct {
	// AccountID is the requesting account.
	AccountID int64
	// Identifiers are the order's identifiers, wildcards included; NewOrder
	// lowercases, sorts and deduplicates a copy, as Boulder does.
	Identifiers []acme.Identifier
	// ARIExempt says the caller has validated the order's ARI `replaces`
	// and that now is inside the replaced certificate's suggested window:
	// the order is then exempt from every rate limit (not from pausing).
	ARIExempt bool
	// Replaces, if set, validates the order's `replaces` field and reports
	// whether the order is ARI-exempt (as ARIExempt). NewOrder calls it
	// after the paused check and before the limits, Boulder's order, and
	// returns its error unchanged. Leave nil when there is no `replaces`.
	Replaces func(ctx context.Context) (ariExempt bool, err error)
}

// NewOrder runs new-order's checks in Boulder's order (wfe2/wfe.go
// NewOrder): paused identifiers (429 with the unpause link), then
// req.Replaces, then — unless ARI-exempt — one batch of
// NewOrdersPerAccount (check and spend; skipped for a renewal),
// FailedAuthorizationsPerDomainPerAccount per identifier (check only),
// CertificatesPerDomain per registered domain or IP range (check only;
// skipped for a renewal; the per-account buckets instead when the account
// has a CertificatesPerDomainPerAccount override) and
// CertificatesPerFQDNSet (check only). The strictest denial wins. An order
// is a renewal when a certificate for exactly its identifier set was issued
// (Issued) less than 120 days ago, by any account.
//
// Call it after the identifiers pass policy, right before creating the
// order, and call refund if the order is then not created (a reused order
// counts as created). err is nil, an *acme.Error (429 rateLimited, or
// serverInternal if the pause check fails), or Replaces's error. refund is
// never nil and is safe to call more than once.
func (l *Limiter) NewOrder(ctx context.Context, req NewOrderRequest) (refund func(), err error) {
	ids := normalize(req.Identifiers)
	if err := l.checkPaused(ctx, req.AccountID, ids); err != nil {
		return noRefund, err
	}
	exempt := req.ARIExempt
	if req.Replaces != nil {
		e, err := req.Replaces(ctx)
		if err != nil {
			return noRefund, err
		}
		exempt = exempt || e
	}
	if exempt {
		return noRefund, nil
	}
	hash := fqdnSetHash(ids)
	last, err := l.lastIssued(ctx, hash)
	if err != nil {
		return noRefund, fmt.Errorf("ratelimit: while checking renewal exemption status: %w", err)
	}
	return l.checkAndSpend(ctx, l.newOrderTxns(req.AccountID, ids, hash, isRenewal(last, l.clk.Now())))
}

func (l *Limiter) newOrderTxns(account int64, ids []acme.Identifier, hash string, renewal bool) []txn {
	acct := strconv.FormatInt(account, 10)
	txns := make([]txn, 0, 2*len(ids)+2)
	if !renewal {
		key := NewOrdersPerAccount.prefix() + acct
		txns = l.add(txns, NewOrdersPerAccount, key, key, modeCheckAndSpend)
	}
	failed := FailedAuthorizationsPerDomainPerAccount.prefix() + acct
	if lim := l.reg.lookup(FailedAuthorizationsPerDomainPerAccount, failed); lim != nil {
		for _, id := range ids {
			txns = append(txns, txn{key: failed + ":" + id.Value, lim: lim, cost: 1, mode: modeCheck})
		}
	}
	if !renewal {
		txns = l.certsPerDomain(txns, acct, ids, modeCheck)
	}
	key := CertificatesPerFQDNSet.prefix() + hash
	return l.add(txns, CertificatesPerFQDNSet, key, key, modeCheck)
}

// certsPerDomain adds the CertificatesPerDomain transactions of ids. With
// a CertificatesPerDomainPerAccount override for the account, new-order
// checks only the per-account buckets and issuance spends both.
func (l *Limiter) certsPerDomain(txns []txn, acct string, ids []acme.Identifier, m mode) []txn {
	perAccount := l.reg.lookup(CertificatesPerDomainPerAccount, CertificatesPerDomainPerAccount.prefix()+acct)
	for _, c := range coveringSet(ids) {
		if perAccount != nil {
			key := CertificatesPerDomainPerAccount.prefix() + acct + ":" + c
			txns = append(txns, txn{key: key, lim: perAccount, cost: 1, mode: m})
			if m == modeCheck {
				continue
			}
		}
		key := CertificatesPerDomain.prefix() + c
		txns = l.add(txns, CertificatesPerDomain, key, key, m)
	}
	return txns
}

// add appends a cost-1 transaction on key unless the limit is disabled for
// overrideKey.
func (l *Limiter) add(txns []txn, name Name, overrideKey, key string, m mode) []txn {
	if lim := l.reg.lookup(name, overrideKey); lim != nil {
		txns = append(txns, txn{key: key, lim: lim, cost: 1, mode: m})
	}
	return txns
}

// checkAndSpend runs a request's batch: a 429 on denial, a refund function
// when allowed, and the request let through (fail open) if the Source
// fails.
func (l *Limiter) checkAndSpend(ctx context.Context, txns []txn) (func(), error) {
	if len(txns) == 0 {
		return noRefund, nil
	}
	d, err := l.spend(ctx, txns)
	if err != nil {
		l.log.WarnContext(ctx, "rate limit check failed; letting the request through", "error", err)
		return noRefund, nil
	}
	if !d.allowed {
		return noRefund, denial(d, l.clk.Now(), l.jitter())
	}
	return l.refunder(ctx, txns), nil
}

// checkPaused returns Boulder's paused error if any of ids is paused for
// the account.
func (l *Limiter) checkPaused(ctx context.Context, account int64, ids []acme.Identifier) error {
	paused, err := l.pauses.Paused(ctx, account, ids, maxPausedShown)
	if err != nil {
		l.log.WarnContext(ctx, "checking paused identifiers", "account", account, "error", err)
		return acme.New(acme.ServerInternal, detailPauseCheckFailed)
	}
	if len(paused) == 0 {
		return nil
	}
	values := make([]string, len(paused))
	for i, id := range paused {
		values[i] = id.Value
	}
	token, err := l.unpauseJWT(account, values)
	if err != nil {
		l.log.WarnContext(ctx, "signing unpause JWT", "account", account, "error", err)
		return acme.New(acme.ServerInternal, detailUnpauseJWT)
	}
	return pausedError(values, l.unpauseBase+unpauseFormPath+"?jwt="+token)
}

// AuthzFailed counts a failed authorization of account for id: the
// authorization's identifier (no "*."), as Boulder's countFailedValidations
// after a failed DCV or CAA check, or when a pending authorization is
// deactivated. It spends FailedAuthorizationsPerDomainPerAccount (spend
// only) and checks and spends
// FailedAuthorizationsForPausingPerDomainPerAccount; when that one is
// exhausted the identifier is paused, unless it was unpaused less than 14
// days ago. Best effort: the error is for the log only, never for a client.
func (l *Limiter) AuthzFailed(ctx context.Context, account int64, id acme.Identifier) error {
	id.Value = strings.ToLower(id.Value)
	acct := strconv.FormatInt(account, 10)
	var errs []error
	failed := FailedAuthorizationsPerDomainPerAccount.prefix() + acct
	if txns := l.add(nil, FailedAuthorizationsPerDomainPerAccount, failed, failed+":"+id.Value, modeSpend); txns != nil {
		if _, err := l.spend(ctx, txns); err != nil {
			errs = append(errs, err)
		}
	}
	pausing := FailedAuthorizationsForPausingPerDomainPerAccount.prefix() + acct
	txns := l.add(nil, FailedAuthorizationsForPausingPerDomainPerAccount, pausing, pausing+":"+id.Value, modeCheckAndSpend)
	if txns == nil {
		return errors.Join(errs...)
	}
	d, err := l.spend(ctx, txns)
	if err != nil || d.allowed {
		return errors.Join(append(errs, err)...)
	}
	res, err := l.pauses.Pause(ctx, account, id, l.clk.Now())
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("ratelimit: pausing %s for account %d: %w", id, account, err))...)
	}
	l.log.InfoContext(ctx, "consecutive failed authorizations", "account", account, "identifier", id.String(),
		"limit", FailedAuthorizationsForPausingPerDomainPerAccount.String(), "result", res.String())
	return errors.Join(errs...)
}

// AuthzValid resets account's consecutive-failures bucket for id (the
// authorization's identifier) after a successful validation, as Boulder's
// resetAccountPausingLimit. It does not unpause. Best effort.
func (l *Limiter) AuthzValid(ctx context.Context, account int64, id acme.Identifier) error {
	key := FailedAuthorizationsForPausingPerDomainPerAccount.prefix() + strconv.FormatInt(account, 10)
	if l.reg.lookup(FailedAuthorizationsForPausingPerDomainPerAccount, key) == nil {
		return nil
	}
	return l.src.Delete(context.WithoutCancel(ctx), []string{key + ":" + strings.ToLower(id.Value)})
}

// Issued records a certificate issued to account for idents (the
// certificate's identifiers), as Boulder's countCertificateIssued after
// finalize: it spends CertificatesPerDomain (spend only; skipped when the
// same set was issued in the last 120 days; also the per-account buckets
// with a CertificatesPerDomainPerAccount override) and
// CertificatesPerFQDNSet (spend only, always, ARI renewals included), and
// remembers the set for the renewal exemption. Best effort: the error is
// for the log only.
func (l *Limiter) Issued(ctx context.Context, account int64, idents []acme.Identifier) error {
	ids := normalize(idents)
	hash := fqdnSetHash(ids)
	now := l.clk.Now()
	last, histErr := l.lastIssued(ctx, hash)
	var txns []txn
	if !isRenewal(last, now) {
		txns = l.certsPerDomain(txns, strconv.FormatInt(account, 10), ids, modeSpend)
	}
	key := CertificatesPerFQDNSet.prefix() + hash
	txns = l.add(txns, CertificatesPerFQDNSet, key, key, modeSpend)
	_, spendErr := l.spend(ctx, txns)
	var recErr error
	if l.renewals {
		recErr = l.hist.RecordIssued(ctx, hash, now)
	}
	return errors.Join(histErr, spendErr, recErr)
}

// lastIssued is the History's last issuance of the set, or the zero time
// when no limit the renewal exemption lifts is in force (nothing to lift).
func (l *Limiter) lastIssued(ctx context.Context, hash string) (time.Time, error) {
	if !l.renewals {
		return time.Time{}, nil
	}
	return l.hist.LastIssued(ctx, hash)
}
