// Package python carries the Python runner, runner.py: the worker side of the agent ↔ worker
// protocol (docs/worker-protocol.md) for algorithms written in Python. The agent writes it next
// to an algorithm and starts `python -u runner.py <entrypoint.py>` in the algorithm's directory.
package python

import _ "embed"

//go:embed runner.py
var runnerSource string

// Runner returns the source of runner.py. Each call returns a fresh copy.
func Runner() []byte {
	return []byte(runnerSource)
}
