package ratelimit

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// overrideBody is an Override's YAML body, for MarshalYAML.
type overrideBody struct {
	Burst  int64         `yaml:"burst"`
	Count  int64         `yaml:"count"`
	Period time.Duration `yaml:"period"`
	IDs    []OverrideID  `yaml:"ids,omitempty"`
}

// MarshalYAML writes Boulder's one-key mapping.
func (o Override) MarshalYAML() (any, error) {
	return map[string]overrideBody{o.Limit.String(): {o.Burst, o.Count, o.Period, o.IDs}}, nil
}

// UnmarshalYAML reads Boulder's one-key mapping. It rejects unknown keys
// itself, because yaml.v3 does not carry KnownFields into custom
// unmarshalers. An unknown limit name is kept for Validate to report with
// its path.
func (o *Override) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return fmt.Errorf("line %d: a rate limit entry is a mapping with one key, the limit name", n.Line)
	}
	*o = Override{}
	key, body := n.Content[0], n.Content[1]
	if name, ok := ParseName(key.Value); ok {
		o.Limit = name
	} else {
		o.unknown = key.Value
	}
	if body.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping of burst, count, period and ids", body.Line, key.Value)
	}
	for i := 0; i+1 < len(body.Content); i += 2 {
		k, v := body.Content[i], body.Content[i+1]
		var err error
		switch k.Value {
		case "burst":
			err = v.Decode(&o.Burst)
		case "count":
			err = v.Decode(&o.Count)
		case "period":
			err = v.Decode(&o.Period)
		case "ids":
			o.IDs, err = decodeIDs(v)
		default:
			return fmt.Errorf("line %d: field %s not found in rate limit %s (want burst, count, period, ids)",
				k.Line, k.Value, key.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeIDs(n *yaml.Node) ([]OverrideID, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: ids: want a list of {id, comment}", n.Line)
	}
	out := make([]OverrideID, 0, len(n.Content))
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: ids: want a list of {id, comment}", item.Line)
		}
		var id OverrideID
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: ids: %s must be a scalar", v.Line, k.Value)
			}
			switch k.Value {
			case "id":
				id.ID = v.Value
			case "comment":
				id.Comment = v.Value
			default:
				return nil, fmt.Errorf("line %d: field %s not found in rate limit id (want id, comment)", k.Line, k.Value)
			}
		}
		out = append(out, id)
	}
	return out, nil
}
