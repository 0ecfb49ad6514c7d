package challengeval

import (
	"fmt"
	"slices"
	"strings"
)

// Forward sends DNS questions for names at or below Zone only to Server.
// Zone is a DNS name ("test", "example.com") or "." for every name; Server
// is "host:port", asked over UDP with a TCP retry on truncation. The zero
// value is invalid. Plain data.
type Forward struct {
	Zone   string `json:"zone" yaml:"zone"`
	Server string `json:"server" yaml:"server"`
}

// checkForwards reports invalid or duplicate zones and bad servers.
func checkForwards(list []Forward, bad reporter) {
	seen := map[string]int{}
	for i, f := range list {
		path := fmt.Sprintf("forward[%d]", i)
		zone := zoneKey(f.Zone)
		switch {
		case strings.TrimSpace(f.Zone) == "":
			bad(path+".zone", "must not be empty (use \".\" for every name)")
		case zone != "" && checkName(zone) != nil:
			bad(path+".zone", "%v", checkName(f.Zone))
		default:
			if j, dup := seen[zone]; dup {
				bad(path+".zone", "%q is already forwarded by forward[%d]", f.Zone, j)
			} else {
				seen[zone] = i
			}
		}
		if err := checkHostPort(f.Server); err != nil {
			bad(path+".server", "%v", err)
		}
	}
}

// zoneKey normalizes a zone: lower case, no trailing dot, "" for the root.
func zoneKey(z string) string {
	return normalizeName(strings.TrimSpace(z))
}

// forwards is the compiled form of Config.Forward: zones longest first.
// Read-only after construction, so safe for concurrent use.
type forwards []forward

type forward struct {
	zone   string // normalized; "" is the root
	server string
}

func compileForwards(list []Forward) forwards {
	out := make(forwards, len(list))
	for i, f := range list {
		out[i] = forward{zone: zoneKey(f.Zone), server: f.Server}
	}
	slices.SortStableFunc(out, func(a, b forward) int { return len(b.zone) - len(a.zone) })
	return out
}

// serverFor returns the server of the longest zone name is at or below.
func (fs forwards) serverFor(name string) (string, bool) {
	name = normalizeName(name)
	for _, f := range fs {
		if f.zone == "" || name == f.zone || strings.HasSuffix(name, "."+f.zone) {
			return f.server, true
		}
	}
	return "", false
}
