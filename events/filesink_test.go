package events

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newFileSink(t *testing.T, cfg FileSinkConfig) (*FileSink, *logBuffer) {
	t.Helper()
	log, buf := newLogger()
	s, err := NewFileSink(cfg, FileSinkDeps{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, buf
}

func TestFileSinkConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     FileSinkConfig
		wantErr string
	}{
		{"defaults", FileSinkConfig{Dir: dir}, ""},
		{"creates missing directories", FileSinkConfig{Dir: filepath.Join(dir, "a", "b")}, ""},
		{"dir required", FileSinkConfig{}, "events: FileSinkConfig.Dir is required"},
		{"negative keep", FileSinkConfig{Dir: dir, Keep: -1}, "events: FileSinkConfig.Keep must be from 0 (default 10000) to 1000000, got -1"},
		{"factor one", FileSinkConfig{Dir: dir, CompactFactor: 1}, "events: FileSinkConfig.CompactFactor must be 0 (default 4) or at least 2, got 1"},
		{"dir is a file", FileSinkConfig{Dir: filepath.Join(dir, "file")}, "events: creating the journal directory"},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewFileSink(tt.cfg, FileSinkDeps{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestFileSinkRestart runs a journal on a FileSink, "restarts" with a new
// sink and journal on the same directory, and expects every event back in
// order, with numbering continuing after them.
func TestFileSinkRestart(t *testing.T) {
	dir := t.TempDir()
	appendSome := func(j *Journal, from, to int) {
		for i := from; i <= to; i++ {
			j.Append(Event{Kind: ValidationFailed, Account: 1, Order: int64(i), Identifiers: dns("*.example.com"),
				Problem: &Problem{Type: "urn:ietf:params:acme:error:dns", Detail: "line\nbreak \"quoted\"", Status: 400}})
		}
	}
	var want []Event
	for run := range 3 {
		sink, _ := newFileSink(t, FileSinkConfig{Dir: dir, Keep: 100})
		j, clk, _ := newJournal(t, 100, sink)
		clk.Step(time.Duration(run) * time.Hour)
		n, err := j.Restore(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Fatalf("run %d: restored %d events, want %d", run, n, len(want))
		}
		if got := j.Query(Filter{}); !eventsEqual(got, want) {
			t.Fatalf("run %d: restored\n%+v\nwant\n%+v", run, got, want)
		}
		stop := runJournal(t, j)
		appendSome(j, run*10+1, run*10+5)
		stop()
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		want = j.Query(Filter{})
	}
	if got := seqs(want); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
		t.Errorf("seqs across restarts %v", got)
	}
}

func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || !a[i].Time.Equal(b[i].Time) || a[i].Kind != b[i].Kind || a[i].Order != b[i].Order ||
			!slices.Equal(a[i].Identifiers, b[i].Identifiers) || deref(a[i].Problem) != deref(b[i].Problem) {
			return false
		}
	}
	return true
}

func writeEvents(t *testing.T, dir string, n int) {
	t.Helper()
	sink, _ := newFileSink(t, FileSinkConfig{Dir: dir})
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Seq: uint64(i + 1), Time: epoch(), Kind: OrderCreated, Order: int64(i + 1)}
	}
	if err := sink.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendRaw(t *testing.T, path, raw string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(raw); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFileSinkTornLastLine simulates a crash in the middle of a write: the
// torn line is cut off with a warning, and later appends are intact.
func TestFileSinkTornLastLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	writeEvents(t, dir, 2)
	appendRaw(t, path, `{"seq":3,"time":"2026-03-01T12:00:00Z","ki`)

	sink, logs := newFileSink(t, FileSinkConfig{Dir: dir})
	if !strings.Contains(logs.String(), "the journal's last line is incomplete (the process probably stopped mid-write); dropping it") {
		t.Errorf("no clear warning about the torn line:\n%s", logs)
	}
	j, _, _ := newJournal(t, 10, sink)
	if n, err := j.Restore(context.Background()); err != nil || n != 2 {
		t.Fatalf("restored %d, %v; want the 2 intact events", n, err)
	}
	stop := runJournal(t, j)
	if s := j.Append(Event{Kind: CertificateIssued}); s != 3 {
		t.Errorf("next seq %d, want 3", s)
	}
	stop()
	evs, err := sink.LoadEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(evs); !slices.Equal(got, []uint64{1, 2, 3}) || evs[2].Kind != CertificateIssued {
		t.Errorf("after repair and append: %v", evs)
	}
	if strings.Contains(logs.String(), "does not decode") {
		t.Errorf("the appended line was damaged:\n%s", logs)
	}
}

// TestFileSinkCorruptLine skips a complete line that does not decode and
// names it in the log.
func TestFileSinkCorruptLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	writeEvents(t, dir, 2)
	appendRaw(t, path, "\x00\x00garbage\n"+`{"seq":4,"time":"2026-03-01T12:00:00Z","kind":"order-created"}`+"\n")

	sink, logs := newFileSink(t, FileSinkConfig{Dir: dir})
	evs, err := sink.LoadEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(evs); !slices.Equal(got, []uint64{1, 2, 4}) {
		t.Errorf("loaded %v, want [1 2 4]", got)
	}
	if !strings.Contains(logs.String(), "skipping a journal line that does not decode") || !strings.Contains(logs.String(), "line=3") {
		t.Errorf("no warning naming line 3:\n%s", logs)
	}
}

func TestFileSinkLoadLimit(t *testing.T) {
	dir := t.TempDir()
	writeEvents(t, dir, 25)
	sink, _ := newFileSink(t, FileSinkConfig{Dir: dir})
	span := func(from, to uint64) []uint64 {
		var out []uint64
		for s := from; s <= to; s++ {
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name  string
		limit int
		want  []uint64
	}{
		{"zero means all", 0, span(1, 25)},
		{"negative means all", -1, span(1, 25)},
		{"newest three", 3, span(23, 25)},
		{"newest ten", 10, span(16, 25)},
		{"exactly all", 25, span(1, 25)},
		{"more than stored", 100, span(1, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := sink.LoadEvents(context.Background(), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(evs); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFileSinkCompaction appends past CompactFactor×Keep and expects the
// file to shrink to the newest Keep events and keep accepting appends.
func TestFileSinkCompaction(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path+".tmp", []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink, logs := newFileSink(t, FileSinkConfig{Dir: dir, Keep: 5, CompactFactor: 2})
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("unfinished compaction not removed: %v", err)
	}
	for seq := uint64(1); seq <= 23; seq++ {
		if err := sink.AppendEvents(context.Background(), []Event{{Seq: seq, Kind: OrderCreated}}); err != nil {
			t.Fatal(err)
		}
		if lines := countLines(t, path); lines > 10 {
			t.Fatalf("after seq %d the file has %d lines, more than 2×5", seq, lines)
		}
	}
	// The 11th line triggers each compaction: at seq 11 (→ 7..11), 17
	// (→ 13..17) and 23 (→ 19..23).
	evs, err := sink.LoadEvents(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(evs); !slices.Equal(got, []uint64{19, 20, 21, 22, 23}) {
		t.Errorf("after compactions: %v", got)
	}
	if c := strings.Count(logs.String(), "compacted the journal"); c != 3 {
		t.Errorf("%d compactions logged, want 3:\n%s", c, logs)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("journal file mode: %v, %v", info, err)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestFileSinkClosed(t *testing.T) {
	sink, _ := newFileSink(t, FileSinkConfig{Dir: t.TempDir()})
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := sink.AppendEvents(context.Background(), []Event{{Seq: 1, Kind: OrderCreated}})
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("append after Close: %v", err)
	}
}

func TestFileSinkCancelledContext(t *testing.T) {
	sink, _ := newFileSink(t, FileSinkConfig{Dir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sink.AppendEvents(ctx, []Event{{Seq: 1}}); err == nil {
		t.Error("append with a cancelled context succeeded")
	}
}
