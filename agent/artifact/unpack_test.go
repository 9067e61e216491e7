package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarball(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Name))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte(h.Name))
		}
	}
	tw.Close()
	gz.Close()
	return &buf
}

func TestUnpack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := Unpack(tarball(t,
		&tar.Header{Name: "a/b/c.txt", Typeflag: tar.TypeReg, Mode: 0o644},
		&tar.Header{Name: "run.sh", Typeflag: tar.TypeReg, Mode: 0o755},
	), dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a/b/c.txt")); err != nil || string(b) != "a/b/c.txt" {
		t.Fatalf("%q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("executable bit lost: %v %v", fi, err)
	}
}

func TestUnpackRefusesEscapes(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]*tar.Header{
		"dotdot":   {Name: "../evil", Typeflag: tar.TypeReg},
		"nested":   {Name: "a/../../evil", Typeflag: tar.TypeReg},
		"absolute": {Name: "/tmp/evil", Typeflag: tar.TypeReg},
		"symlink":  {Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
		"device":   {Name: "dev", Typeflag: tar.TypeChar},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dir := filepath.Join(parent, "x")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Unpack(tarball(t, h), dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil || strings.Contains(h.Name, "tmp") && fileExists("/tmp/evil") {
				t.Fatal("wrote outside the directory")
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
