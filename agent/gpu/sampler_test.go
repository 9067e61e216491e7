//go:build cgo

package gpu

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// parents is a fake process table for ParentOf: pid → parent pid.
type parents map[int]int

func (p parents) of(pid int) (int, error) {
	pp, ok := p[pid]
	if !ok {
		return 0, fmt.Errorf("no process %d", pid)
	}
	return pp, nil
}

// calls records onExceed calls.
type calls struct {
	mu   sync.Mutex
	used []int
}

func (c *calls) add(mib int) { c.mu.Lock(); c.used = append(c.used, mib); c.mu.Unlock() }
func (c *calls) get() []int  { c.mu.Lock(); defer c.mu.Unlock(); return append([]int(nil), c.used...) }

func newSampler(t *testing.T, m *machine, cfg SamplerConfig) *Sampler {
	t.Helper()
	d, closeLib, err := OpenLibrary(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeLib)
	cfg.Driver = d
	s, err := NewSampler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSamplerAttributesTrees: a tree's memory is its processes' on all devices; a tree over its
// share triggers its callback once, one within its share never, and other processes count for
// no tree.
func TestSamplerAttributesTrees(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	inv := m.inventory(t)
	gpu0, gpu1 := inv.Devices[0].UUID, inv.Devices[1].UUID
	// 100 → 101 → 102 is one worker's tree; 200 another; 300 is nobody's.
	s := newSampler(t, m, SamplerConfig{ParentOf: parents{100: 50, 101: 100, 102: 101, 200: 50, 300: 1, 50: 1}.of})
	m.setProcesses(gpu0, map[int]int{101: 400, 200: 1500, 300: 9000})
	m.setProcesses(gpu1, map[int]int{102: 300, 999: 100})
	var over, within calls
	stopOver := s.Watch(100, 1000, over.add)
	defer stopOver()
	defer s.Watch(200, 2000, within.add)()

	smp, err := s.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if smp.Trees[100] != 700 || smp.Trees[200] != 1500 || len(smp.Trees) != 2 {
		t.Fatalf("trees %v; want 100: 700, 200: 1500", smp.Trees)
	}
	for _, p := range smp.Processes {
		want := map[int]int{101: 100, 102: 100, 200: 200}[p.PID]
		if p.Root != want {
			t.Errorf("process %d attributed to %d; want %d", p.PID, p.Root, want)
		}
	}
	if len(over.get()) != 0 || s.Usage(100) != 700 {
		t.Fatalf("within its share: calls %v, usage %d", over.get(), s.Usage(100))
	}

	m.setProcesses(gpu1, map[int]int{102: 700}) // the tree now holds 1100 MiB
	for range 3 {
		if _, err := s.Poll(); err != nil {
			t.Fatal(err)
		}
	}
	if got := over.get(); len(got) != 1 || got[0] != 1100 {
		t.Errorf("over its share: calls %v; want one with 1100", got)
	}
	if got := within.get(); len(got) != 0 {
		t.Errorf("within its share: calls %v; want none", got)
	}
	stopOver()
	stopOver() // idempotent
	if s.Usage(100) != 0 {
		t.Errorf("usage of a stopped watch: %d", s.Usage(100))
	}
}

// TestSamplerRun: Run polls on its own; a tree that goes over its share is reported once, and a
// stopped watch is not reported.
func TestSamplerRun(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	gpu := m.inventory(t).Devices[3].UUID
	s := newSampler(t, m, SamplerConfig{Interval: 5 * time.Millisecond, ParentOf: parents{10: 1, 20: 1}.of})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var over, stopped calls
	defer s.Watch(10, 512, over.add)()
	s.Watch(20, 512, stopped.add)()                      // stopped at once
	m.setProcesses(gpu, map[int]int{10: 2048, 20: 4096}) // both over
	deadline := time.Now().Add(5 * time.Second)
	for len(over.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // ten more polls
	if got := over.get(); len(got) != 1 || got[0] != 2048 {
		t.Errorf("calls %v; want one with 2048", got)
	}
	if got := stopped.get(); len(got) != 0 {
		t.Errorf("stopped watch called: %v", got)
	}
}

// TestSamplerMIG: a GPU in MIG mode reports its processes per MIG device; unknown figures
// (NVML_VALUE_NOT_AVAILABLE) count as nothing.
func TestSamplerMIG(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	migs := m.enableMIG(t, 0, nvml.GPU_INSTANCE_PROFILE_1_SLICE, 3)
	s := newSampler(t, m, SamplerConfig{ParentOf: parents{7: 1, 8: 1}.of})
	m.setProcesses(migs[2], map[int]int{7: 3000, 8: -1})
	m.setProcesses(m.device(0).UUID, map[int]int{7: 99999}) // the parent handle is not read in MIG mode
	var c calls
	defer s.Watch(7, 2048, c.add)()
	defer s.Watch(8, 1, c.add)()
	smp, err := s.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.get(); len(got) != 1 || got[0] != 3000 {
		t.Errorf("calls %v; want one with 3000", got)
	}
	if len(smp.Processes) != 2 || smp.Processes[0].DeviceUUID != migs[2] {
		t.Errorf("processes %+v; want two on %s", smp.Processes, migs[2])
	}
}

// TestSamplerRealProcessTree attributes a grandchild of a watched process through the real
// /proc: the driver's PIDs are mocked, the processes are real.
func TestSamplerRealProcessTree(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Command("kill", strconv.Itoa(child)).Run()

	m := newMachine(t)
	s := newSampler(t, m, SamplerConfig{})
	m.setProcesses(m.inventory(t).Devices[0].UUID, map[int]int{child: 700})
	var c calls
	defer s.Watch(cmd.Process.Pid, 512, c.add)()
	if _, err := s.Poll(); err != nil {
		t.Fatal(err)
	}
	if got := c.get(); len(got) != 1 || got[0] != 700 {
		t.Errorf("calls %v; want one with 700 (sleep %d is a child of sh %d)", got, child, cmd.Process.Pid)
	}
}

func TestProcParent(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pp, err := procParent(cmd.Process.Pid)
	if err != nil || pp != os.Getpid() {
		t.Errorf("procParent(%d) = %d, %v; want this test's pid", cmd.Process.Pid, pp, err)
	}
	if _, err := procParent(1 << 30); err == nil {
		t.Error("procParent of a missing process: no error")
	}
}
