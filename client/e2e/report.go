package e2e

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Message is the one-line reason of a failed row: the server's problem
// ("403 urn:…:unauthorized: detail") when there is one, else the error.
func (res Result) Message() string {
	if p := res.Problem; p != nil {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Type, p.Detail)
	}
	return res.Error
}

// mark is the row's symbol and word.
func (res Result) mark() string {
	switch res.Status {
	case Pass:
		return "✓ pass"
	case Skip:
		return "- skip"
	}
	return "✗ FAIL"
}

// FormatDuration prints d as the table does: "850 µs", "12 ms", "1.4 s".
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// WriteTable prints the step table (step, result, time, detail) and a
// closing PASS or FAIL line with the failed step's exact problem.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tRESULT\tTIME\tDETAIL")
	for _, s := range r.Steps {
		detail := s.Detail
		if s.Status == Fail {
			detail = s.Message()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Step, s.mark(), FormatDuration(s.Duration), oneLine(detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if f, failed := r.Failed(); failed {
		_, err := fmt.Fprintf(w, "FAIL at %s (%s): %s\n", f.Step, r.Server, f.Message())
		return err
	}
	_, err := fmt.Fprintf(w, "PASS: %d steps against %s in %s\n", len(r.Steps), r.Server, FormatDuration(r.Duration))
	return err
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// MarshalJSON adds the duration as "ms" (milliseconds, to the µs).
func (res Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Millis float64 `json:"ms"`
	}{plain(res), millis(res.Duration)})
}

// MarshalJSON adds the duration as "ms".
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Millis float64 `json:"ms"`
	}{plain(r), millis(r.Duration)})
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// JUnit XML, the subset CI systems read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure"`
	Skipped   *junitMessage `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML, one testcase per step.
func (r Report) WriteJUnit(w io.Writer) error {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	s := junitSuite{Name: "fakeca e2e", Time: secs(r.Duration), Properties: []junitProperty{{"server", r.Server}}}
	for _, st := range r.Steps {
		c := junitCase{Name: st.Step, Classname: "fakeca.e2e", Time: secs(st.Duration), SystemOut: st.Detail}
		switch st.Status {
		case Fail:
			s.Failures++
			c.Failure = &junitMessage{Message: st.Message(), Text: st.Error}
			if st.Problem != nil {
				c.Failure.Type = st.Problem.Type
			}
		case Skip:
			s.Skipped++
			c.Skipped = &junitMessage{Message: st.Detail}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	out := junitSuites{Name: s.Name, Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
