package pki

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "pki")
	first, _ := newHierarchy(t, Config{Dir: dir})
	second, clk := newHierarchy(t, Config{Dir: dir})
	clk.Step(48 * time.Hour) // a later start still loads the same hierarchy

	t.Run("same roots and bundle", func(t *testing.T) {
		if !bytes.Equal(first.BundlePEM(), second.BundlePEM()) {
			t.Fatal("bundle changed across restarts")
		}
		for i, r := range first.Roots() {
			if !r.Equal(second.Roots()[i]) {
				t.Fatalf("root %d changed", i)
			}
		}
		if !first.ecCross.Equal(second.ecCross) {
			t.Fatal("cross-signed root changed")
		}
	})
	t.Run("same issuers", func(t *testing.T) {
		for i, iss := range first.Issuers() {
			if got := second.Issuers()[i]; got.ID != iss.ID || !got.Cert.Equal(iss.Cert) {
				t.Fatalf("issuer %d changed", i)
			}
		}
	})
	t.Run("leaf from the second verifies with the first bundle", func(t *testing.T) {
		leaf := issue(t, second, newTestKey(t, "p256"), DefaultProfiles()["classic"], "a.example")
		verify(t, first, leaf.Cert, second.Chains(leaf.Issuer.ID)[0], clk.Now())
		if iss, ok := first.IssuerOf(leaf.Cert); !ok || iss.ID != leaf.Issuer.ID {
			t.Fatal("first hierarchy does not recognise the second's leaf")
		}
	})
	t.Run("file modes", func(t *testing.T) {
		modes := map[string]os.FileMode{
			".": 0o700, "root-rsa.key": 0o600, "int-ecdsa.key": 0o600,
			"root-rsa.pem": 0o644, BundleFile: 0o644,
		}
		for name, want := range modes {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode %o, want %o", name, got, want)
			}
		}
		bundle, err := os.ReadFile(filepath.Join(dir, BundleFile))
		if err != nil || !bytes.Equal(bundle, first.BundlePEM()) {
			t.Errorf("%s does not hold BundlePEM (err %v)", BundleFile, err)
		}
	})
}

func TestPersistenceErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		mangle  func(t *testing.T, dir string)
		wantErr string
	}{
		{name: "other preset", cfg: Config{Hierarchy: "letsencrypt-production"},
			wantErr: `holds a "fakeca" hierarchy, but pki.hierarchy is "letsencrypt-production"`},
		{name: "missing file", mangle: func(t *testing.T, dir string) {
			mustRemove(t, filepath.Join(dir, "int-rsa.key"))
		}, wantErr: "holds an incomplete hierarchy (missing int-rsa.key)"},
		{name: "garbage", mangle: func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "root-ecdsa.pem"), []byte("hello"))
		}, wantErr: "root-ecdsa.pem: no PEM block"},
		{name: "key where a certificate belongs", mangle: func(t *testing.T, dir string) {
			mustCopy(t, filepath.Join(dir, "int-rsa.key"), filepath.Join(dir, "int-rsa.pem"))
		}, wantErr: `int-rsa.pem: PEM type "PRIVATE KEY", want CERTIFICATE`},
		{name: "swapped keys", mangle: func(t *testing.T, dir string) {
			mustCopy(t, filepath.Join(dir, "int-ecdsa.key"), filepath.Join(dir, "root-ecdsa.key"))
		}, wantErr: "ECDSA root certificate does not match its key"},
		{name: "intermediate from another hierarchy", mangle: func(t *testing.T, dir string) {
			other := t.TempDir()
			newHierarchy(t, Config{Dir: other})
			for _, f := range []string{"int-ecdsa.pem", "int-ecdsa.key"} {
				mustCopy(t, filepath.Join(other, f), filepath.Join(dir, f))
			}
		}, wantErr: "ECDSA intermediate signature"},
		{name: "wrong key type", mangle: func(t *testing.T, dir string) {
			for _, f := range []string{".pem", ".key"} {
				mustCopy(t, filepath.Join(dir, "int-ecdsa"+f), filepath.Join(dir, "int-rsa"+f))
			}
		}, wantErr: "RSA intermediate key is ECDSA, want RSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			newHierarchy(t, Config{Dir: dir})
			if tt.mangle != nil {
				tt.mangle(t, dir)
			}
			cfg := tt.cfg
			cfg.Dir = dir
			_, err := New(cfg, Deps{Clock: clocktesting.NewFakeClock(testStart())})
			if err == nil || !strings.HasPrefix(err.Error(), "pki.dir: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want pki.dir: …%s…", err, tt.wantErr)
			}
		})
	}
	t.Run("dir is a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		mustWrite(t, path, []byte("x"))
		_, err := New(Config{Dir: path}, Deps{Clock: clocktesting.NewFakeClock(testStart())})
		if err == nil || !strings.HasPrefix(err.Error(), "pki.dir: ") {
			t.Fatalf("New() error = %v, want pki.dir: …", err)
		}
	})
}

// mustRemove deletes a file or fails the test.
func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// mustWrite writes a file or fails the test.
func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustCopy copies src over dst or fails the test.
func mustCopy(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, dst, data)
}
