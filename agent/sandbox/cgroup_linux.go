package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// limitControllers are the controllers a Policy's limits use.
var limitControllers = []string{"memory", "pids", "cpu"}

// cgroupHost is where this host lets the agent create worker cgroups.
type cgroupHost struct {
	v2Parent      string          // directory for worker cgroups in the cgroup2 hierarchy, "" if unusable
	v2Controllers map[string]bool // limit controllers enabled for v2Parent's children
	v2Kill        bool            // v2 children have cgroup.kill
	v1            map[string]string
	problems      []string
}

// discoverCgroups finds the cgroup hierarchies and the agent's place in each (or parent).
func discoverCgroups(parent string) *cgroupHost {
	h := &cgroupHost{v2Controllers: map[string]bool{}, v1: map[string]string{}}
	mounts, err := cgroupMounts()
	if err != nil {
		h.problems = append(h.problems, "cgroups: read /proc/self/mountinfo: "+err.Error())
		return h
	}
	own, err := ownCgroups()
	if err != nil {
		h.problems = append(h.problems, "cgroups: read /proc/self/cgroup: "+err.Error())
		return h
	}
	dir := func(m cgroupMount, path string) string {
		if parent != "" {
			path = parent
		}
		if m.root != "/" {
			path = strings.TrimPrefix(path, m.root)
		}
		return filepath.Join(m.point, path)
	}
	for _, m := range mounts {
		if m.v2 {
			if h.v2Parent != "" {
				continue
			}
			path, ok := own[""]
			if !ok {
				continue
			}
			h.v2Parent = dir(m, path)
			continue
		}
		for _, c := range append(slices.Clone(limitControllers), "freezer") {
			if _, done := h.v1[c]; done || !slices.Contains(m.controllers, c) {
				continue
			}
			if path, ok := own[c]; ok {
				h.v1[c] = dir(m, path)
			}
		}
	}
	if h.v2Parent != "" {
		h.probeV2(parent == "")
	}
	for c, d := range h.v1 {
		if !writableCgroupDir(d) {
			h.problems = append(h.problems, fmt.Sprintf("cgroup v1 %s: cannot create cgroups under %s (run the agent as root or delegate that cgroup to it)", c, d))
			delete(h.v1, c)
		}
	}
	for _, c := range limitControllers {
		if !h.v2Controllers[c] && h.v1[c] == "" {
			h.problems = append(h.problems, fmt.Sprintf("no %s cgroup controller: policies that set a %s limit fail (enable the %s controller for the agent's cgroup, or run the agent under a delegated cgroup and set the sandbox cgroup parent)", c, c, c))
		}
	}
	return h
}

// probeV2 checks that worker cgroups can be created in the cgroup2 hierarchy, whether they
// have cgroup.kill, and enables the limit controllers for them where the parent allows it.
func (h *cgroupHost) probeV2(own bool) {
	probe := filepath.Join(h.v2Parent, "algos-probe-"+randomHex(6))
	if err := os.Mkdir(probe, 0o755); err != nil {
		h.problems = append(h.problems, fmt.Sprintf("cgroup v2: cannot create cgroups under %s: %v (run the agent as root or delegate that cgroup to it)", h.v2Parent, err))
		h.v2Parent = ""
		return
	}
	_, err := os.Stat(filepath.Join(probe, "cgroup.kill"))
	h.v2Kill = err == nil
	os.Remove(probe)
	if !h.v2Kill {
		h.problems = append(h.problems, "cgroup v2 has no cgroup.kill (Linux < 5.14): trees are killed through the freezer or member by member")
	}
	missing := h.enableV2()
	if len(missing) > 0 && own && h.adoptLeaf() {
		missing = h.enableV2()
	}
	if len(missing) > 0 {
		h.problems = append(h.problems, fmt.Sprintf("cgroup v2: controllers %s are available in %s but cannot be enabled for its children (it holds processes other than the agent): run the agent alone in a delegated cgroup (a systemd service with Delegate=yes), or set the sandbox cgroup parent to a cgroup whose subtree_control enables them",
			strings.Join(missing, ","), h.v2Parent))
	}
}

// enableV2 enables the limit controllers for v2Parent's children where the parent has them,
// and returns those it could not enable.
func (h *cgroupHost) enableV2() (missing []string) {
	avail := strings.Fields(readString(filepath.Join(h.v2Parent, "cgroup.controllers")))
	enabled := strings.Fields(readString(filepath.Join(h.v2Parent, "cgroup.subtree_control")))
	for _, c := range limitControllers {
		switch {
		case slices.Contains(enabled, c):
			h.v2Controllers[c] = true
		case slices.Contains(avail, c):
			if os.WriteFile(filepath.Join(h.v2Parent, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
				h.v2Controllers[c] = true
			} else {
				missing = append(missing, c)
			}
		}
	}
	return missing
}

// adoptLeaf moves the agent, when it is the only process of its cgroup v2 (a delegated
// service cgroup), into a child "agent", so that the cgroup may enable controllers for the
// workers' cgroups beside it (cgroup v2 lets only a cgroup without processes do that).
func (h *cgroupHost) adoptLeaf() bool {
	procs := strings.Fields(readString(filepath.Join(h.v2Parent, "cgroup.procs")))
	if len(procs) != 1 || procs[0] != strconv.Itoa(os.Getpid()) {
		return false
	}
	leaf := filepath.Join(h.v2Parent, "agent")
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte("0"), 0); err != nil {
		os.Remove(leaf)
		return false
	}
	h.problems = append(h.problems, fmt.Sprintf("cgroup v2: moved the agent into %s so that worker cgroups may have limits", leaf))
	return true
}

func (h *cgroupHost) info() CgroupInfo {
	ci := CgroupInfo{Controllers: map[string]string{}}
	switch {
	case h.v2Parent != "" && len(h.v1) > 0:
		ci.Version = "hybrid"
	case h.v2Parent != "":
		ci.Version = "v2"
	case len(h.v1) > 0:
		ci.Version = "v1"
	}
	for _, c := range limitControllers {
		switch {
		case h.v2Controllers[c]:
			ci.Controllers[c] = "v2"
		case h.v1[c] != "":
			ci.Controllers[c] = "v1"
		}
	}
	switch {
	case h.v2Parent != "" && h.v2Kill:
		ci.Kill = "cgroup.kill"
	case h.v1["freezer"] != "":
		ci.Kill = "freezer"
	case len(h.v1) > 0:
		ci.Kill = "procs"
	default:
		ci.Kill = "pgroup"
	}
	return ci
}

// cgroupSet is one worker's cgroups.
type cgroupSet struct {
	v2   string            // the worker's cgroup2 directory, "" if none
	v1   map[string]string // controller → the worker's v1 directory
	kill string            // "cgroup.kill", "freezer", "procs"
	// memory and pids name the directories whose events count OOM kills and failed forks.
	memory, pids string
	memoryV2     bool
}

// create makes one worker's cgroups and writes p's limits. A limit the host cannot enforce
// fails with an *UnavailableError. Returns nil when the host offers no cgroups at all and p
// sets no limit.
func (h *cgroupHost) create(driver string, p Policy) (_ *cgroupSet, err error) {
	need := map[string]bool{"memory": p.MemoryBytes > 0, "pids": p.PidsMax > 0, "cpu": p.CPUShares > 0 || p.CPUQuota > 0}
	for _, c := range limitControllers {
		if need[c] && !h.v2Controllers[c] && h.v1[c] == "" {
			return nil, &UnavailableError{Driver: driver, Feature: fmt.Sprintf("the policy sets a %s limit but this host has no usable %s cgroup controller", c, c),
				Hint: "enable it for the agent's cgroup (or set the sandbox cgroup parent to a delegated cgroup), or drop the limit"}
		}
	}
	name := fmt.Sprintf("algos-sandbox-%d-%s", os.Getpid(), randomHex(6))
	s := &cgroupSet{v1: map[string]string{}}
	defer func() {
		if err != nil {
			s.remove(context.Background())
		}
	}()
	if h.v2Parent != "" {
		s.v2 = filepath.Join(h.v2Parent, name)
		if err := os.Mkdir(s.v2, 0o755); err != nil {
			s.v2 = ""
			return nil, fmt.Errorf("sandbox: create cgroup: %w", err)
		}
		if h.v2Kill {
			s.kill = "cgroup.kill"
		}
	}
	use := func(c string) error {
		d := filepath.Join(h.v1[c], name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("sandbox: create %s cgroup: %w", c, err)
		}
		s.v1[c] = d
		return nil
	}
	for _, c := range limitControllers {
		if need[c] && !h.v2Controllers[c] {
			if err := use(c); err != nil {
				return nil, err
			}
		}
	}
	if s.kill == "" && h.v1["freezer"] != "" {
		if err := use("freezer"); err != nil {
			return nil, err
		}
		s.kill = "freezer"
	}
	if s.kill == "" && len(s.v1) == 0 && s.v2 == "" && len(h.v1) > 0 {
		// Something to find the tree's members by.
		for _, c := range []string{"pids", "memory", "cpu"} {
			if h.v1[c] != "" {
				if err := use(c); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	if s.kill == "" && (len(s.v1) > 0 || s.v2 != "") {
		s.kill = "procs"
	}
	if s.v2 == "" && len(s.v1) == 0 {
		return nil, nil
	}
	write := func(dir, file, val string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0); err != nil {
			return fmt.Errorf("sandbox: set %s: %w", file, err)
		}
		return nil
	}
	if p.MemoryBytes > 0 {
		if h.v2Controllers["memory"] {
			s.memory, s.memoryV2 = s.v2, true
			if err := write(s.v2, "memory.max", strconv.FormatInt(p.MemoryBytes, 10)); err != nil {
				return nil, err
			}
			if fileExists(filepath.Join(s.v2, "memory.swap.max")) {
				if err := write(s.v2, "memory.swap.max", "0"); err != nil {
					return nil, err
				}
			}
		} else {
			s.memory = s.v1["memory"]
			if err := write(s.memory, "memory.limit_in_bytes", strconv.FormatInt(p.MemoryBytes, 10)); err != nil {
				return nil, err
			}
			if fileExists(filepath.Join(s.memory, "memory.memsw.limit_in_bytes")) {
				if err := write(s.memory, "memory.memsw.limit_in_bytes", strconv.FormatInt(p.MemoryBytes, 10)); err != nil {
					return nil, err
				}
			}
		}
	}
	if p.PidsMax > 0 {
		s.pids = s.v1["pids"]
		if h.v2Controllers["pids"] {
			s.pids = s.v2
		}
		if err := write(s.pids, "pids.max", strconv.Itoa(p.PidsMax)); err != nil {
			return nil, err
		}
	}
	const period = 100000
	quota := int64(math.Ceil(p.CPUQuota * period))
	if h.v2Controllers["cpu"] {
		if p.CPUShares > 0 {
			weight := 1 + (int64(p.CPUShares)-2)*9999/262142
			if err := write(s.v2, "cpu.weight", strconv.FormatInt(weight, 10)); err != nil {
				return nil, err
			}
		}
		if quota > 0 {
			if err := write(s.v2, "cpu.max", fmt.Sprintf("%d %d", quota, period)); err != nil {
				return nil, err
			}
		}
	} else if d := s.v1["cpu"]; d != "" {
		if p.CPUShares > 0 {
			if err := write(d, "cpu.shares", strconv.Itoa(p.CPUShares)); err != nil {
				return nil, err
			}
		}
		if quota > 0 {
			if err := write(d, "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
				return nil, err
			}
			if err := write(d, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// procsFiles are the files the shim writes "0" to, to join the worker's cgroups.
func (s *cgroupSet) procsFiles() []string {
	if s == nil {
		return nil
	}
	var out []string
	if s.v2 != "" {
		out = append(out, filepath.Join(s.v2, "cgroup.procs"))
	}
	for _, c := range slices.Sorted(maps.Keys(s.v1)) {
		out = append(out, filepath.Join(s.v1[c], "cgroup.procs"))
	}
	return out
}

func (s *cgroupSet) dirs() []string {
	var out []string
	if s.v2 != "" {
		out = append(out, s.v2)
	}
	for _, d := range s.v1 {
		out = append(out, d)
	}
	return out
}

// killTree SIGKILLs every process in the worker's cgroups, setsid escapees included. It
// returns once the signals are sent (see waitEmpty). Bounded by ctx.
func (s *cgroupSet) killTree(ctx context.Context) error {
	switch s.kill {
	case "cgroup.kill":
		return os.WriteFile(filepath.Join(s.v2, "cgroup.kill"), []byte("1"), 0)
	case "freezer":
		d := s.v1["freezer"]
		state := filepath.Join(d, "freezer.state")
		if err := os.WriteFile(state, []byte("FROZEN"), 0); err != nil {
			return err
		}
		for strings.TrimSpace(readString(state)) != "FROZEN" && sleepCtx(ctx, 5*time.Millisecond) {
		}
		killAll(filepath.Join(d, "cgroup.procs"))
		return os.WriteFile(state, []byte("THAWED"), 0)
	case "procs":
		for _, d := range s.dirs() {
			killAll(filepath.Join(d, "cgroup.procs"))
		}
	}
	return nil
}

// waitEmpty kills until the worker's cgroups hold no process, or ctx ends.
func (s *cgroupSet) waitEmpty(ctx context.Context) error {
	for {
		empty := true
		for _, d := range s.dirs() {
			if len(bytes.TrimSpace(readBytes(filepath.Join(d, "cgroup.procs")))) > 0 {
				empty = false
			}
		}
		if empty {
			return nil
		}
		if s.kill == "procs" {
			s.killTree(ctx)
		}
		if !sleepCtx(ctx, 5*time.Millisecond) {
			return fmt.Errorf("sandbox: processes are still in the worker's cgroups: %w", ctx.Err())
		}
	}
}

// events counts OOM kills and forks failed at the pids limit.
func (s *cgroupSet) events() (oomKills, pidsMax int) {
	if s.memory != "" {
		if s.memoryV2 {
			oomKills = keyedValue(filepath.Join(s.memory, "memory.events"), "oom_kill")
		} else {
			oomKills = keyedValue(filepath.Join(s.memory, "memory.oom_control"), "oom_kill")
		}
	}
	if s.pids != "" {
		pidsMax = keyedValue(filepath.Join(s.pids, "pids.events"), "max")
	}
	return oomKills, pidsMax
}

// remove deletes the worker's cgroups, retrying while the last processes leave them.
func (s *cgroupSet) remove(ctx context.Context) error {
	var errs []error
	for _, d := range s.dirs() {
		for {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || !sleepCtx(ctx, 5*time.Millisecond) {
				errs = append(errs, fmt.Errorf("sandbox: remove cgroup %s: %w", d, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func killAll(procs string) {
	for _, f := range strings.Fields(readString(procs)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

type cgroupMount struct {
	point, root string
	v2          bool
	controllers []string
}

func cgroupMounts() ([]cgroupMount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		i := slices.Index(f, "-")
		if i < 0 || i+3 >= len(f) || len(f) < 5 {
			continue
		}
		m := cgroupMount{root: unescapeMount(f[3]), point: unescapeMount(f[4])}
		switch f[i+1] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.controllers = strings.Split(f[i+3], ",")
		default:
			continue
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// ownCgroups maps each v1 controller (and "" for cgroup2) to this process's cgroup path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func writableCgroupDir(d string) bool {
	probe := filepath.Join(d, "algos-probe-"+randomHex(6))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false
	}
	os.Remove(probe)
	return true
}

// keyedValue reads "key value" lines and returns key's value, 0 when absent.
func keyedValue(file, key string) int {
	for line := range strings.SplitSeq(readString(file), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func readBytes(file string) []byte {
	b, _ := os.ReadFile(file)
	return b
}

func readString(file string) string { return string(readBytes(file)) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sleepCtx sleeps d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sweepStale removes the worker cgroups that agents which are gone (crashed) left behind,
// killing what still runs in them. Cgroups of live processes are left alone.
func (h *cgroupHost) sweepStale(ctx context.Context) {
	const prefix = "algos-sandbox-"
	sets := map[string]*cgroupSet{}
	scan := func(parent, controller string) {
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), prefix)
			if !ok || !e.IsDir() {
				continue
			}
			pidStr, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidStr)
			if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
				continue
			}
			s := sets[e.Name()]
			if s == nil {
				s = &cgroupSet{v1: map[string]string{}, kill: "procs"}
				sets[e.Name()] = s
			}
			if controller == "" {
				s.v2 = filepath.Join(parent, e.Name())
				if h.v2Kill {
					s.kill = "cgroup.kill"
				}
			} else {
				s.v1[controller] = filepath.Join(parent, e.Name())
			}
		}
	}
	if h.v2Parent != "" {
		scan(h.v2Parent, "")
	}
	for c, d := range h.v1 {
		scan(d, c)
	}
	for _, s := range sets {
		if s.kill == "procs" && s.v1["freezer"] != "" {
			s.kill = "freezer"
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s.killTree(ctx)
		s.waitEmpty(ctx)
		s.remove(ctx)
		cancel()
	}
}
