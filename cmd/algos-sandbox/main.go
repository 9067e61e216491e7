// Command algos-sandbox is the worker sandbox's shim alone (agent/sandbox, docs/sandbox.md): the
// agent starts every sandboxed worker through it. `algos sandbox-init` does the same, but a
// small binary starts in a few milliseconds where the whole algos binary (cloud SDKs and all)
// takes tens, twice per worker start; the agent uses this one when it lies next to its own
// executable.
//
//	algos-sandbox sandbox-init -- PROGRAM [ARGS…]   (started by the agent, not by hand)
package main

import "github.com/algos-dev/algos/agent/sandbox"

func main() { sandbox.InitMain() }
