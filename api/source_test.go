package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPackSourceIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{"algorithm.json": `{"runtime":"python"}`, "main.py": "x", "pkg/m.py": "y", "__pycache__/m.pyc": "z"} {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b1, d1, err := PackSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	_ = os.Chtimes(filepath.Join(dir, "main.py"), later, later)
	b2, d2, err := PackSource(dir)
	if err != nil || d1 != d2 || string(b1) != string(b2) {
		t.Fatalf("digest changed with mtime: %s %s %v", d1, d2, err)
	}
	_ = os.WriteFile(filepath.Join(dir, "main.py"), []byte("changed"), 0o644)
	if _, d3, _ := PackSource(dir); d3 == d1 {
		t.Fatal("digest did not change with content")
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := PackSource(dir); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlink: %v", err)
	}
}

func TestReadManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := ReadManifest(dir); err == nil {
		t.Fatal("missing manifest accepted")
	}
	_ = os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"runtime":"python","typo":1}`), 0o644)
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("unknown field: %v", err)
	}
}
