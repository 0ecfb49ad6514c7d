package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// FileName is the journal file a FileSink keeps in its directory: one JSON
// Event per line, oldest first.
const FileName = "events.jsonl"

// DefaultCompactFactor is FileSinkConfig.CompactFactor's default.
const DefaultCompactFactor = 4

// FileSinkConfig places and sizes a FileSink. Plain data.
type FileSinkConfig struct {
	// Dir is the directory of the journal file, created (0700) if missing.
	// Required; cmd/fakeca uses <--data-dir>/events.
	Dir string
	// Keep is how many events compaction keeps. Set it to the journal's
	// Capacity: keeping more is never read back. Default DefaultCapacity.
	Keep int
	// CompactFactor bounds the file: when it holds more than
	// CompactFactor×Keep events it is rewritten with the newest Keep.
	// Default DefaultCompactFactor (4); at least 2. Larger means fewer
	// rewrites and a bigger file.
	CompactFactor int
}

// FileSinkDeps are a FileSink's collaborators.
type FileSinkDeps struct {
	// Logger receives warnings about a torn or corrupt journal file and
	// failed compactions. Nil means discard.
	Logger *slog.Logger
}

// FileSink is a Sink that appends events as JSON lines to Dir/events.jsonl
// and fsyncs after each batch. A line torn by a crash is cut off when the
// file is opened, lines that do not decode are skipped with a warning when
// it is loaded, and the file is compacted to the newest Keep events when it
// grows past CompactFactor×Keep. Only one FileSink (one process) may use a
// directory at a time. Build one with NewFileSink; the zero value is not
// usable. Safe for concurrent use; calls are serialized.
type FileSink struct {
	log       *slog.Logger
	dir, path string
	keep      int
	compactAt int

	mu    sync.Mutex // guards everything below; held across file I/O
	f     *os.File   // nil once closed
	lines int        // complete lines in the file
	size  int64      // bytes in the file
}

var _ Sink = (*FileSink)(nil)

// NewFileSink opens (or creates) the journal file in cfg.Dir, cutting off a
// torn last line left by a crash. Close it when done.
func NewFileSink(cfg FileSinkConfig, deps FileSinkDeps) (*FileSink, error) {
	if cfg.Dir == "" {
		return nil, errors.New("events: FileSinkConfig.Dir is required")
	}
	if cfg.Keep < 0 || cfg.Keep > MaxCapacity {
		return nil, fmt.Errorf("events: FileSinkConfig.Keep must be from 0 (default %d) to %d, got %d",
			DefaultCapacity, MaxCapacity, cfg.Keep)
	}
	if cfg.CompactFactor != 0 && cfg.CompactFactor < 2 {
		return nil, fmt.Errorf("events: FileSinkConfig.CompactFactor must be 0 (default %d) or at least 2, got %d",
			DefaultCompactFactor, cfg.CompactFactor)
	}
	s := &FileSink{log: deps.Logger, dir: cfg.Dir, path: filepath.Join(cfg.Dir, FileName),
		keep: cfg.Keep, compactAt: cfg.CompactFactor}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.keep == 0 {
		s.keep = DefaultCapacity
	}
	if s.compactAt == 0 {
		s.compactAt = DefaultCompactFactor
	}
	s.compactAt *= s.keep
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("events: creating the journal directory: %w", err)
	}
	if err := os.Remove(s.path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("events: removing an unfinished compaction: %w", err)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	syncDir(cfg.Dir)
	return s, nil
}

// open opens the journal file for appending, counts its lines and cuts
// off a torn last line.
func (s *FileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("events: opening the journal: %w", err)
	}
	lines, good, size, err := scanLines(f)
	if err == nil && good < size {
		s.log.Warn("events: the journal's last line is incomplete (the process probably stopped mid-write); dropping it",
			"path", s.path, "offset", good, "bytes", size-good)
		if err = f.Truncate(good); err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("events: checking the journal %s: %w", s.path, err)
	}
	s.f, s.lines, s.size = f, lines, good
	return nil
}

// scanLines counts the complete lines of r and returns the offset after
// the last newline (good) and the total size.
func scanLines(r io.Reader) (lines int, good, size int64, err error) {
	buf := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(buf)
		for i, b := range buf[:n] {
			if b == '\n' {
				lines++
				good = size + int64(i) + 1
			}
		}
		size += int64(n)
		if rerr == io.EOF {
			return lines, good, size, nil
		}
		if rerr != nil {
			return 0, 0, 0, rerr
		}
	}
}

// AppendEvents writes events as JSON lines and fsyncs the file; then, if
// the file has grown past CompactFactor×Keep events, compacts it (a failed
// compaction is logged, not returned). On a write error the file is cut
// back to its previous size, so no torn line is left behind.
func (s *FileSink) AppendEvents(ctx context.Context, events []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("events: encoding event %d: %w", e.Seq, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("events: the file sink is closed (by Close, or because a compaction could not reopen the file)")
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("events: writing the journal: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("events: syncing the journal: %w", err)
	}
	s.lines += len(events)
	s.size += int64(buf.Len())
	if s.lines > s.compactAt {
		if err := s.compact(ctx); err != nil {
			s.log.Error("events: compacting the journal failed; it keeps growing until a compaction succeeds",
				"path", s.path, "error", err)
		}
	}
	return nil
}

// LoadEvents returns the newest limit events of the file (all if limit <=
// 0), oldest first. Lines that do not decode are skipped with a warning
// naming their line number.
func (s *FileSink) LoadEvents(ctx context.Context, limit int) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(ctx, limit)
}

// load is LoadEvents with mu held.
func (s *FileSink) load(ctx context.Context, limit int) ([]Event, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("events: reading the journal: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 64<<10)
	var evs []Event
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a torn tail was cut off by open; a line being written is not ours yet
		}
		if err != nil {
			return nil, fmt.Errorf("events: reading the journal: %w", err)
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			s.log.Warn("events: skipping a journal line that does not decode", "path", s.path, "line", n, "error", err)
			continue
		}
		evs = append(evs, e)
		if limit > 0 && len(evs) >= 2*limit {
			evs = append(evs[:0], evs[len(evs)-limit:]...)
		}
	}
	if limit > 0 && len(evs) > limit {
		evs = evs[len(evs)-limit:]
	}
	return evs, nil
}

// compact rewrites the file with its newest keep events: it writes and
// fsyncs a temporary file, renames it over the journal and reopens it.
// Callers hold mu.
func (s *FileSink) compact(ctx context.Context) error {
	evs, err := s.load(ctx, s.keep)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := writeLines(tmp, evs); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	syncDir(s.dir)
	old := s.f
	if err := s.open(); err != nil {
		s.f = nil // the journal cannot be appended to any more
		_ = old.Close()
		return err
	}
	_ = old.Close()
	s.log.Info("events: compacted the journal", "path", s.path, "events", len(evs))
	return nil
}

// writeLines creates path with evs as JSON lines and fsyncs it.
func writeLines(path string, evs []Event) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	enc := json.NewEncoder(w) // Encode ends each value with a newline
	for _, e := range evs {
		if err = enc.Encode(e); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir fsyncs a directory so a created or renamed file survives a
// crash; best effort (not every platform can sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Close closes the journal file. Later calls fail; Close is idempotent.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
