package events

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/fakeca/fakeca/internal/yamltest"
)

// decodeConfig decodes YAML strictly, as cmd/fakeca does.
func decodeConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func TestConfigYAML(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want int
	}{
		{"empty document", "", 0},
		{"capacity", "capacity: 500\n", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := decodeConfig([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Capacity != tt.want {
				t.Errorf("capacity %d, want %d", cfg.Capacity, tt.want)
			}
		})
	}
}

// TestBadConfigFiles loads each testdata/bad_*.yaml strictly and expects
// the error named on its "# want:" first line.
func TestBadConfigFiles(t *testing.T) {
	yamltest.BadFiles(t, "testdata", func(data []byte) error {
		_, err := decodeConfig(data)
		return err
	})
}
