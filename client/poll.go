package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

// pollDelay is how long to wait before the next poll: the server's
// Retry-After capped at MaxPollInterval, else PollInterval.
func (c *Client) pollDelay(retryAfter time.Duration) time.Duration {
	if retryAfter <= 0 {
		return c.cfg.PollInterval
	}
	return min(retryAfter, c.cfg.MaxPollInterval)
}

// waitAuthz polls an authorization until it is valid (nil) or invalid
// (an *acme.AuthorizationError carrying the challenges' problems).
func (c *Client) waitAuthz(ctx context.Context, url string) error {
	for {
		z, err := c.acme.GetAuthorization(ctx, url)
		if err != nil {
			return fmt.Errorf("authorization %s: %w", url, err)
		}
		switch z.Status {
		case acme.StatusValid:
			return nil
		case acme.StatusInvalid:
			e := &acme.AuthorizationError{URI: url, Identifier: displayIdentifier(z)}
			for _, ch := range z.Challenges {
				if ch.Error != nil {
					e.Errors = append(e.Errors, ch.Error)
				}
			}
			return e
		case acme.StatusPending, acme.StatusProcessing:
		default:
			return fmt.Errorf("authorization for %s became %s", displayIdentifier(z), z.Status)
		}
		if err := c.sleep(ctx, c.pollDelay(z.RetryAfter)); err != nil {
			return fmt.Errorf("waiting for authorization of %s: %w", displayIdentifier(z), err)
		}
	}
}

// waitOrder polls an order until its status is one of want; an invalid
// order is an *acme.OrderError with the order's problem.
func (c *Client) waitOrder(ctx context.Context, url string, want ...string) (*acme.Order, error) {
	for {
		o, err := c.acme.GetOrder(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", url, err)
		}
		if o.URI == "" { // servers need not send Location on POST-as-GET
			o.URI = url
		}
		if slices.Contains(want, o.Status) {
			return o, nil
		}
		if o.Status == acme.StatusInvalid {
			return nil, &acme.OrderError{OrderURL: url, Status: o.Status, Problem: o.Error}
		}
		if err := c.sleep(ctx, c.pollDelay(o.RetryAfter)); err != nil {
			return nil, fmt.Errorf("waiting for order %s (%s): %w", url, o.Status, err)
		}
	}
}
