package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/cert-manager/cert-manager/third_party/forked/acme"
)

func TestRetryable(t *testing.T) {
	problem := func(status int, typ string) error {
		return fmt.Errorf("new order: %w", &acme.Error{StatusCode: status, ProblemType: typ})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"500 serverInternal retries", problem(500, "urn:ietf:params:acme:error:serverInternal"), true},
		{"503 retries", problem(503, ""), true},
		{"429 rateLimited is final (just another 4xx)", problem(429, "urn:ietf:params:acme:error:rateLimited"), false},
		{"400 rejectedIdentifier is final", problem(400, "urn:ietf:params:acme:error:rejectedIdentifier"), false},
		{"403 unauthorized is final", problem(403, "urn:ietf:params:acme:error:unauthorized"), false},
		{"network error retries", fmt.Errorf("x: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{"deadline retries (cert-manager ≥ 1.21)", context.DeadlineExceeded, true},
		{"canceled is final", context.Canceled, false},
		{"failed authorization is final", &acme.AuthorizationError{Errors: []error{&acme.Error{StatusCode: 403}}}, false},
		{"solver error is final", ErrNoSolver, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestProblem(t *testing.T) {
	p := &acme.Error{StatusCode: 403, ProblemType: "urn:ietf:params:acme:error:unauthorized", Detail: "nope"}
	tests := []struct {
		name string
		err  error
		want *acme.Error
	}{
		{"wrapped problem", fmt.Errorf("a: %w", p), p},
		{"invalid order", &acme.OrderError{Problem: p}, p},
		{"failed authorization", fmt.Errorf("b: %w", &acme.AuthorizationError{Errors: []error{p}}), p},
		{"none", errors.New("plain"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Problem(tt.err); got != tt.want {
				t.Errorf("Problem = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsReplacesRejection(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"alreadyReplaced", &acme.Error{StatusCode: 409, ProblemType: problemAlreadyReplaced}, true},
		{"malformed about replaces", &acme.Error{StatusCode: 400, ProblemType: problemMalformed,
			Detail: "Could not validate ARI 'replaces' field :: Invalid path"}, true},
		{"malformed about something else", &acme.Error{StatusCode: 400, ProblemType: problemMalformed, Detail: "bad CSR"}, false},
		{"no ARI in the directory", acme.ErrCADoesNotSupportARI, true},
		{"rate limited", &acme.Error{StatusCode: 429, ProblemType: "urn:ietf:params:acme:error:rateLimited"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isReplacesRejection(tt.err); got != tt.want {
				t.Errorf("isReplacesRejection = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		in      string
		want    acme.CRLReasonCode
		wantErr bool
	}{
		{"0", 0, false}, {"keyCompromise", 1, false}, {"KEYCOMPROMISE", 1, false}, {"superseded", 4, false},
		{"cessationOfOperation", 5, false}, {"10", 10, false}, {"7", 0, true}, {"11", 0, true}, {"bogus", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReason(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseReason(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
