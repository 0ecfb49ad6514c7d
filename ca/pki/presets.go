package pki

import (
	"crypto/x509/pkix"
	"sort"
)

// Preset names accepted by Config.Hierarchy. When adding one, also add it to
// presetTable and to the Config.Hierarchy doc comment.
const (
	PresetFakeca     = "fakeca"
	PresetStaging    = "letsencrypt-staging"
	PresetProduction = "letsencrypt-production"
)

// preset is the naming of one hierarchy: subjects of the two roots and of
// the two intermediates, and the intermediates' issuer IDs (used in URLs).
type preset struct {
	name              string
	rsaRoot, ecRoot   pkix.Name
	rsaInt, ecInt     pkix.Name
	rsaIntID, ecIntID string
}

// subject builds a C/O/CN name.
func subject(org, cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Organization: []string{org}, CommonName: cn}
}

// presetTable returns every preset, keyed by name. It is a function so the
// table is never shared mutable state.
//
// The Let's Encrypt presets borrow subjects only (reference §4.3/§4.4). The
// shape is simplified: Let's Encrypt's Gen-Y intermediates hang below Root
// YR / Root YE, which are themselves cross-signed; fakeca signs YR1 directly
// with the RSA root and YE1 directly with the ECDSA root, and cross-signs the
// ECDSA root with the RSA root (like ISRG Root X2 by X1).
func presetTable() map[string]preset {
	const (
		fakeOrg = "fakeca (NOT A REAL CA, DO NOT TRUST)"
		stgOrg  = "(STAGING) Internet Security Research Group"
		stgLE   = "(STAGING) Let's Encrypt"
		isrg    = "Internet Security Research Group"
		le      = "Let's Encrypt"
	)
	return map[string]preset{
		PresetFakeca: {
			name:     PresetFakeca,
			rsaRoot:  subject(fakeOrg, "fakeca Fake Root X1"),
			ecRoot:   subject(fakeOrg, "fakeca Fake Root X2"),
			rsaInt:   subject(fakeOrg, "fakeca Fake Intermediate R1"),
			ecInt:    subject(fakeOrg, "fakeca Fake Intermediate E1"),
			rsaIntID: "r1", ecIntID: "e1",
		},
		PresetStaging: {
			name:     PresetStaging,
			rsaRoot:  subject(stgOrg, "(STAGING) Pretend Pear X1"),
			ecRoot:   subject(stgOrg, "(STAGING) Bogus Broccoli X2"),
			rsaInt:   subject(stgLE, "(STAGING) Dastardly Durum YR1"),
			ecInt:    subject(stgLE, "(STAGING) Artificial Amaranth YE1"),
			rsaIntID: "yr1", ecIntID: "ye1",
		},
		PresetProduction: {
			name:     PresetProduction,
			rsaRoot:  subject(isrg, "ISRG Root X1"),
			ecRoot:   subject(isrg, "ISRG Root X2"),
			rsaInt:   subject(le, "YR1"),
			ecInt:    subject(le, "YE1"),
			rsaIntID: "yr1", ecIntID: "ye1",
		},
	}
}

// lookupPreset resolves a Config.Hierarchy value; "" means PresetFakeca.
func lookupPreset(name string) (preset, bool) {
	if name == "" {
		name = PresetFakeca
	}
	p, ok := presetTable()[name]
	return p, ok
}

// presetNames lists the preset names, sorted.
func presetNames() []string {
	t := presetTable()
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
