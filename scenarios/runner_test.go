package scenarios

import (
	"context"
	"slices"
	"testing"
)

// TestRunExpectations checks that failed expectations are reported with
// the file, line and field, and that met ones are not.
func TestRunExpectations(t *testing.T) {
	const head = "name: t\ndescription: d\ncertificates:\n  - name: web\n    dnsNames: [t.example.com]\ntimeline:\n  - advance: 1h\n"
	tests := []struct {
		name   string
		expect string
		want   []string
	}{
		{name: "met", expect: "expect:\n  accounts: 1\n  certificates:\n    web: {issuances: 1, attempts: 1, ready: true, expiry: 2159h}\n"},
		{name: "wrong counts", expect: "expect:\n  certificates:\n    web:\n      issuances: 2\n      ready: false\n",
			want: []string{"t.yaml:10: expect.certificates.web.issuances: got 1, want 2",
				"t.yaml:10: expect.certificates.web.ready: got true, want false"}},
		{name: "wrong accounts", expect: "expect:\n  accounts: 2\n",
			want: []string{"t.yaml:9: expect.accounts: got 1, want 2"}},
		{name: "missing error text", expect: "expect:\n  certificates:\n    web: {lastError: boom}\n",
			want: []string{`t.yaml:10: expect.certificates.web.lastError: "" does not contain "boom"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(head+tt.expect))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), s, Options{Start: testStart()})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Failures, tt.want) || res.Passed != (len(tt.want) == 0) {
				t.Errorf("failures %q (passed %t), want %q", res.Failures, res.Passed, tt.want)
			}
		})
	}
}
