package instance_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsE2EBannerRE matches the lines `fakeca dns` prints once it serves:
// the DNS address, then the API's URL, then the Ctrl-C hint.
var dnsE2EBannerRE = struct{ dns, api *regexp.Regexp }{
	dns: regexp.MustCompile(`^fakeca DNS serving \[(.*)\] on (127\.0\.0\.1:\d+) \(UDP\+TCP\)$`),
	api: regexp.MustCompile(`^  pebble-challtestsrv API: (http://127\.0\.0\.1:\d+)$`),
}

// TestDNSE2EProcess runs `fakeca dns` as a separate process, as a CI job
// would next to its system under test: one RFC 2136 update with
// cert-manager's provider and one /set-txt through the API, both read back
// over DNS, then SIGINT and a clean exit. Port 0 is used for both
// listeners and the bound addresses are read from the banner.
func TestDNSE2EProcess(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bin := ldFakecaBinary(t, t.TempDir())
	p := dnsE2EStartProcess(ctx, t, bin, "dns", "--dns-listen", "127.0.0.1:0",
		"--challtestsrv-listen", "127.0.0.1:0", "--dns-zone", "example.test")
	dnsAddr, apiURL := dnsE2EReadBanner(t, p.banner)

	const rfcName, apiName = "_acme-challenge.www.example.test.", "_acme-challenge.api.example.test."
	cm := dnsE2ECertManagerAt(t, dnsAddr, "", "", "", "")
	if err := cm.provider.Present("www.example.test", rfcName, "example.test.", "via-rfc2136"); err != nil {
		t.Errorf("Present: %v", err)
	}
	dnsE2EAPI{base: apiURL}.call(t, "/set-txt", map[string]any{"host": apiName, "value": "via-set-txt"})
	for name, want := range map[string]string{rfcName: "via-rfc2136", apiName: "via-set-txt"} {
		if got := dnsE2EAnswers(t, dnsAddr, name, dns.TypeTXT); !slices.Equal(got, []string{want}) {
			t.Errorf("TXT %s: %q, want [%s]", name, got, want)
		}
	}

	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil || ctx.Err() != nil {
		t.Errorf("fakeca dns after SIGINT: %v (%v)", err, ctx.Err())
	}
}

// dnsE2EProcess is a running fakeca; its stderr goes to the test log.
type dnsE2EProcess struct {
	cmd    *exec.Cmd
	banner []string      // its first three lines of stdout, fewer if it ended before
	done   chan struct{} // closed when stdout has been read to its end
	waited bool
}

// dnsE2EStartProcess starts bin with args and reads the first three lines
// of its stdout. It is killed at the end of t unless wait was called.
func dnsE2EStartProcess(ctx context.Context, t *testing.T, bin string, args ...string) *dnsE2EProcess {
	t.Helper()
	p := &dnsE2EProcess{cmd: exec.CommandContext(ctx, bin, args...), done: make(chan struct{})}
	p.cmd.Stderr = t.Output()
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.waited {
			_ = p.cmd.Process.Kill()
			_ = p.wait()
		}
	})
	banner := make(chan []string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		var lines []string
		for len(lines) < 3 && sc.Scan() {
			lines = append(lines, sc.Text())
		}
		banner <- lines
		for sc.Scan() { // the process may log more; keep the pipe flowing
		}
	}()
	p.banner = <-banner
	return p
}

// wait waits for stdout's end, then for the process, and returns its
// exit error.
func (p *dnsE2EProcess) wait() error {
	p.waited = true
	<-p.done
	return p.cmd.Wait()
}

// dnsE2EReadBanner wants the banner of `fakeca dns` serving example.test
// and returns the DNS address and the API's base URL.
func dnsE2EReadBanner(t *testing.T, lines []string) (dnsAddr, apiURL string) {
	t.Helper()
	if len(lines) < 3 || lines[2] != "Press Ctrl-C to stop." {
		t.Fatalf("banner %q, want three lines ending with the Ctrl-C hint", lines)
	}
	d, a := dnsE2EBannerRE.dns.FindStringSubmatch(lines[0]), dnsE2EBannerRE.api.FindStringSubmatch(lines[1])
	if d == nil || a == nil || d[1] != "example.test. test." {
		t.Fatalf("banner %q, want the zones [example.test. test.], the DNS and the API addresses", lines)
	}
	return d[2], a[1]
}
