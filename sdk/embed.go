// Package sdk carries the algorithm-side libraries so that a node can build algorithms without
// downloading them: the Go SDK's source travels inside the algos binary.
package sdk

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed go/algo/*.go internal/wire/*.go
var goFiles embed.FS

// GoModule returns the files of a module `github.com/algos-dev/algos` holding just the Go SDK
// (its go.mod and the non-test sources of sdk/go/algo and what it imports), by path relative
// to the module root. The agent puts it in a Go workspace beside an algorithm's module, so
// `import "github.com/algos-dev/algos/sdk/go/algo"` resolves offline.
func GoModule() map[string][]byte {
	out := map[string][]byte{"go.mod": []byte("module github.com/algos-dev/algos\n\ngo 1.22\n")}
	_ = fs.WalkDir(goFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := goFiles.ReadFile(p)
		if err == nil {
			out["sdk/"+p] = b
		}
		return err
	})
	return out
}
