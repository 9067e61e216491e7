// Package python carries the Python side of algos: runner.py, the worker side of the agent ↔
// worker protocol (docs/worker-protocol.md) for algorithms written in Python, and the Algorithmia
// package, an Algorithmia-compatible client and ADK (docs/algorithmia.md). The agent writes both
// next to an algorithm and starts `python -u runner.py <entrypoint.py>` in the algorithm's
// directory; runner.py's directory stays on sys.path, so `import Algorithmia` resolves there.
package python

import (
	"embed"
	"io/fs"
)

//go:embed runner.py
var runnerSource string

//go:embed Algorithmia/*.py
var packageFiles embed.FS

// Runner returns the source of runner.py. Each call returns a fresh copy.
func Runner() []byte {
	return []byte(runnerSource)
}

// Package returns the files of the Algorithmia package by slash-separated path relative to
// runner.py's directory ("Algorithmia/__init__.py", …). Each call returns fresh copies.
func Package() map[string][]byte {
	out := map[string][]byte{}
	_ = fs.WalkDir(packageFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := packageFiles.ReadFile(p)
		if err == nil {
			out[p] = b
		}
		return err
	})
	return out
}
