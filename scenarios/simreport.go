package scenarios

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints the report: totals, failures by reason, and one
// timeline row per day with any activity (quiet days are left out).
func (rep Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "certificates\t%d\ndays\t%d\npreset\t%s\n", rep.Certs, rep.Days, rep.Preset)
	if rep.Profile != "" {
		fmt.Fprintf(tw, "profile\t%s\n", rep.Profile)
	}
	fmt.Fprintf(tw, "seed\t%d\nattempts\t%d\nissuances\t%d\nrenewals\t%d\nfailures\t%d\nrate-limit denials\t%d\n",
		rep.Seed, rep.Attempts, rep.Issuances, rep.Renewals, rep.Failures, rep.Denials)
	fmt.Fprintf(tw, "expired\t%d\nnever issued\t%d\nmin remaining validity\t%s\n", rep.Expired, rep.NeverIssued,
		formatDays(rep.MinRemaining))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Reasons) > 0 {
		fmt.Fprintln(w, "\nfailures by reason:")
		for _, r := range rep.Reasons {
			fmt.Fprintf(w, "  %6d  %s: %s\n", r.Count, r.Type, r.Example)
		}
	}
	fmt.Fprintln(w, "\ntimeline (days with activity):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tissuances\trenewals\tfailures\tdenials\t")
	for _, d := range rep.Timeline {
		if d.Issuances+d.Failures > 0 {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", d.Day, d.Issuances, d.Renewals, d.Failures, d.Denials)
		}
	}
	return tw.Flush()
}

// formatDays prints d as days and hours ("29d23h", "-2d4h").
func formatDays(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%dd%dh", sign, d/day, (d%day)/time.Hour)
}

// SVG chart geometry.
const (
	svgW, svgH       = 800, 320
	svgLeft, svgTop  = 60, 30
	svgPlotW, svgPlH = 700, 240
)

// WriteSVG draws the timeline as an SVG line chart: issuances and
// failures per day.
func (rep Report) WriteSVG(w io.Writer) error {
	peak := 1
	for _, d := range rep.Timeline {
		peak = max(peak, d.Issuances, d.Failures)
	}
	x := func(i int) float64 {
		if len(rep.Timeline) <= 1 {
			return svgLeft
		}
		return svgLeft + float64(i)*svgPlotW/float64(len(rep.Timeline)-1)
	}
	y := func(v int) float64 { return svgTop + svgPlH - float64(v)*svgPlH/float64(peak) }
	line := func(get func(Day) int) string {
		pts := make([]string, len(rep.Timeline))
		for i, d := range rep.Timeline {
			pts[i] = fmt.Sprintf("%.1f,%.1f", x(i), y(get(d)))
		}
		return strings.Join(pts, " ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="18">fakeca simulate: %d certificates, %d days, %s (peak %d/day)</text>`+"\n",
		svgLeft, rep.Certs, rep.Days, rep.Preset, peak)
	fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" fill="none" stroke="black"/>`+"\n",
		svgLeft, svgTop, svgTop+svgPlH, svgLeft+svgPlotW)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d</text>`+"\n", svgLeft-4, svgTop+4, peak)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">0</text>`+"\n", svgLeft-4, svgTop+svgPlH+4)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">day %d</text>`+"\n", svgLeft+svgPlotW, svgTop+svgPlH+18,
		max(len(rep.Timeline)-1, 0))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" points="%s"/>`+"\n", line(func(d Day) int { return d.Issuances }))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#d62728" points="%s"/>`+"\n", line(func(d Day) int { return d.Failures }))
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1f77b4">issuances</text>`+"\n", svgLeft+10, svgTop+svgPlH+18)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#d62728">failures</text>`+"\n", svgLeft+90, svgTop+svgPlH+18)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
