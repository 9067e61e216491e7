package provider

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestExamples runs `terraform validate` on every example of the docs layout against the built
// provider, so that the examples stay valid for the schema.
func TestExamples(t *testing.T) {
	t.Parallel()
	plugins := providerPluginDir(t)
	dirs, err := filepath.Glob("../examples/*/*")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "../examples/provider")
	found := 0
	for _, src := range dirs {
		tfs, _ := filepath.Glob(filepath.Join(src, "*.tf"))
		if len(tfs) == 0 || filepath.Base(filepath.Dir(src)) == "algorithms" {
			continue
		}
		found++
		t.Run(filepath.ToSlash(src[len("../examples/"):]), func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			// The docs examples leave required_providers out: declare where algos comes from.
			if _, err := os.Stat(filepath.Join(dir, "main.tf")); err != nil {
				writeFiles(t, dir, map[string]string{"versions.tf": "terraform {\n  required_providers {\n    algos = {\n      source = \"algos-dev/algos\"\n    }\n  }\n}\n"})
			}
			for _, args := range [][]string{{"init", "-input=false", "-no-color", "-backend=false", "-plugin-dir", plugins}, {"validate", "-no-color"}} {
				cmd := exec.Command(tfBin, args...)
				cmd.Dir = dir
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					t.Fatalf("terraform %s: %v\n%s", args[0], err, out.String())
				}
			}
		})
	}
	if found < 6 {
		t.Errorf("found %d example directories, want at least 6", found)
	}
}
