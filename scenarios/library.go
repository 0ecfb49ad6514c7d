package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// library holds the built-in scenarios, one YAML file each.
//
//go:embed library/*.yaml
var library embed.FS

// Library parses every built-in scenario, sorted by name.
func Library() ([]*Scenario, error) {
	files, err := fs.Glob(library, "library/*.yaml")
	if err != nil {
		return nil, err
	}
	out := make([]*Scenario, 0, len(files))
	for _, f := range files {
		s, err := parseLibrary(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Lookup returns the built-in scenario called name.
func Lookup(name string) (*Scenario, error) {
	f := "library/" + name + ".yaml"
	if _, err := fs.Stat(library, f); err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (see `fakeca scenario list`)", name)
	}
	return parseLibrary(f)
}

// Source returns the YAML text of the built-in scenario called name.
func Source(name string) ([]byte, error) {
	b, err := library.ReadFile("library/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (see `fakeca scenario list`)", name)
	}
	return b, nil
}

func parseLibrary(f string) (*Scenario, error) {
	b, err := library.ReadFile(f)
	if err != nil {
		return nil, err
	}
	s, err := Parse(f, b)
	if err != nil {
		return nil, err
	}
	if want := strings.TrimSuffix(path.Base(f), ".yaml"); s.Name != want {
		return nil, fmt.Errorf("%s: name %q must match the file name %q", f, s.Name, want)
	}
	return s, nil
}
