// Package yamltest checks configuration packages against their broken
// fixtures: every testdata/bad_*.yaml starts with a "# want: <error>" line
// naming the error (by its YAML path) that loading it must give. It is a
// test-only leaf package; nothing outside _test.go files imports it.
package yamltest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Validator is a configuration that checks itself.
type Validator interface{ Validate() error }

// Strict decodes data into v as cmd/fakeca does — unknown keys are errors,
// an empty document is allowed — then runs v's Validate.
func Strict[T Validator](data []byte, v T) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return v.Validate()
}

// BadFiles runs one subtest per dir/bad_*.yaml: load must fail with an
// error containing the text on the file's "# want: " first line.
func BadFiles(t *testing.T, dir string, load func(data []byte) error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "bad_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad_*.yaml fixtures in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatal(`first line must be "# want: <error>"`)
			}
			if err := load(data); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an error containing %q", err, want)
			}
		})
	}
}
