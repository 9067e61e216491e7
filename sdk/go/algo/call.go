package algo

import (
	"os"
	"sync"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// callSlot holds the call a worker is serving now: its token and request ID, which a Client
// created without a key authenticates with. A worker serves one call at a time, and apply takes
// no context through which to pass them, so the slot is the one place the serve loop puts them.
// It is safe for concurrent use: goroutines started by apply read it while the loop writes it.
type callSlot struct {
	// exportEnv also puts the call in the process environment (wire.TokenEnv, wire.RequestIDEnv)
	// for its duration, so that child processes inherit it, as the Python runner does.
	exportEnv bool

	mu     sync.Mutex
	active bool
	call   wire.Call
}

// current is the slot of this process's worker: Serve fills it, clients read it. It is the one
// package-level state here, because Serve itself is one per process (it exits the process).
var current = &callSlot{exportEnv: true}

// begin records the call being served from now on; end forgets it. A nil slot records nothing.
func (s *callSlot) begin(c wire.Call) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active, s.call = true, c
	if s.exportEnv {
		setenv(wire.TokenEnv, c.Token)
		setenv(wire.RequestIDEnv, c.RequestID)
	}
}

func (s *callSlot) end() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active, s.call = false, wire.Call{}
	if s.exportEnv {
		_ = os.Unsetenv(wire.TokenEnv)
		_ = os.Unsetenv(wire.RequestIDEnv)
	}
}

// get returns the call being served, and false when none is.
func (s *callSlot) get() (wire.Call, bool) {
	if s == nil {
		return wire.Call{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.call, s.active
}

// setenv sets name to value, or unsets it when value is empty.
func setenv(name, value string) {
	if value == "" {
		_ = os.Unsetenv(name)
		return
	}
	_ = os.Setenv(name, value)
}
