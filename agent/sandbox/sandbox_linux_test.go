package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case InitCommand:
			InitMain()
		case attackCommand:
			attackMain(os.Args[2:])
		}
	}
	code := m.Run()
	if dir := attackerDir; dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

var allDrivers = []string{DriverNamespaces, DriverBasic, DriverNone}

var (
	driversMu sync.Mutex
	drivers   = map[string]Sandbox{}
	driverErr = map[string]error{}
)

// driverFor returns the named driver, probed once per test binary; the test is skipped when
// the host cannot run it (not root, no user namespaces…), with the reason.
func driverFor(t *testing.T, name string) Sandbox {
	t.Helper()
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, done := drivers[name]; !done && driverErr[name] == nil {
		sb, _, err := New(context.Background(), Config{}, name)
		drivers[name], driverErr[name] = sb, err
	}
	if err := driverErr[name]; err != nil {
		t.Skipf("driver %s is unavailable here: %v", name, err)
	}
	return drivers[name]
}

var (
	attackerOnce sync.Once
	attackerDir  string
	attackerPath string
	attackerErr  error
)

// attacker is a copy of this test binary where an unprivileged worker can execute it (the
// go tool builds it in a directory only root may enter).
func attacker(t *testing.T) string {
	t.Helper()
	attackerOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			attackerErr = err
			return
		}
		if attackerDir, attackerErr = os.MkdirTemp("", "algos-sandbox-attacker-"); attackerErr != nil {
			return
		}
		if attackerErr = os.Chmod(attackerDir, 0o755); attackerErr != nil {
			return
		}
		// Copied by another process: a file this process held open for writing could be
		// inherited, for an instant, by a child forked by a parallel test, and exec'ing it
		// would then fail with "text file busy".
		attackerPath = filepath.Join(attackerDir, "attacker")
		if out, err := exec.Command("cp", self, attackerPath).CombinedOutput(); err != nil {
			attackerErr = fmt.Errorf("copy the test binary: %v: %s", err, out)
			return
		}
		attackerErr = os.Chmod(attackerPath, 0o755)
	})
	if attackerErr != nil {
		t.Fatalf("prepare the attacker binary: %v", attackerErr)
	}
	return attackerPath
}

// layout is a worker's directory among others, as the agent lays them out.
type layout struct {
	work    string // the worker's own directory
	sibling string // another worker's directory, owned by the same uid
	secret  string // a file in it
	version string // the version's directory (read-only)
}

const secretText = "the-sibling-worker-secret"

func newLayout(t *testing.T) layout {
	t.Helper()
	base := t.TempDir()
	l := layout{work: filepath.Join(base, "work"), sibling: filepath.Join(base, "sibling"), version: filepath.Join(base, "version")}
	l.secret = filepath.Join(l.sibling, "secret")
	for _, d := range []string{l.work, l.sibling, l.version} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Chmod(base, 0o755))
	must(t, os.Chmod(l.version, 0o755))
	must(t, os.WriteFile(filepath.Join(l.version, "data"), []byte("version data"), 0o644))
	must(t, os.WriteFile(l.secret, []byte(secretText), 0o600))
	// Another worker of the basic driver runs as the same uid: only the sandbox stands between.
	if os.Geteuid() == 0 {
		must(t, chownTree(l.sibling, 65534, 65534))
	}
	return l
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runResult is what one sandboxed run printed and what the sandbox reported.
type runResult struct {
	out    string
	err    error // from cmd.Wait
	report Report
	took   time.Duration
}

// verdict is the attacker's last "ALLOWED …" or "DENIED …" line.
func (r runResult) verdict() string {
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "ALLOWED") || strings.HasPrefix(lines[i], "DENIED") {
			return lines[i]
		}
	}
	return ""
}

// start wraps and starts the attacker with args under sb and p.
func start(t *testing.T, sb Sandbox, p Policy, args ...string) (*exec.Cmd, *Instance, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(attacker(t), append([]string{attackCommand}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &bytes.Buffer{}
	cmd.Stdout = &limitWriter{w: out, n: 64 << 10}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 2 * time.Second
	inst, err := sb.Wrap(cmd, p)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("this host cannot enforce the policy: %v", err)
	}
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if err := cmd.Start(); err != nil {
		inst.Cleanup(context.Background())
		t.Fatalf("start: %v", err)
	}
	return cmd, inst, out
}

// run runs the attacker to its end (at most 30s) and cleans up.
func run(t *testing.T, sb Sandbox, p Policy, args ...string) runResult {
	t.Helper()
	begin := time.Now()
	cmd, inst, out := start(t, sb, p, args...)
	timer := time.AfterFunc(30*time.Second, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	rep, cerr := inst.Cleanup(context.Background())
	if cerr != nil {
		t.Errorf("Cleanup: %v", cerr)
	}
	return runResult{out: out.String(), err: err, report: rep, took: time.Since(begin)}
}

type limitWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// processesWith returns the pids whose /proc/PID/<file> contains s.
func processesWith(file, s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), file)); err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}

func TestDetect(t *testing.T) {
	t.Parallel()
	sb, info, err := Detect(context.Background(), Config{})
	must(t, err)
	if info.Driver != sb.Name() || info.Level != sb.Level().String() {
		t.Errorf("info %+v does not name the driver %s", info, sb.Name())
	}
	// The strongest driver New accepts is the one Detect chose.
	for _, name := range allDrivers {
		if _, _, err := New(context.Background(), Config{}, name); err == nil {
			if name != sb.Name() {
				t.Errorf("Detect chose %s, but %s works", sb.Name(), name)
			}
			break
		}
	}
	if sb.Name() == DriverNamespaces && !info.Namespaces {
		t.Errorf("namespaces driver without namespaces: %+v", info)
	}
	t.Logf("%+v", info)
}

func TestNewUnknownDriver(t *testing.T) {
	t.Parallel()
	if _, _, err := New(context.Background(), Config{}, "docker"); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("err = %v", err)
	}
}

func TestShimWithoutConfiguration(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	must(t, err)
	cmd := exec.Command(self, InitCommand, "--", "/bin/true")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInitFailed || !strings.Contains(string(out), "started by the agent") {
		t.Fatalf("err %v, output %q", err, out)
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	none := &driver{name: DriverNone, level: LevelNone}
	err := Require(none, LevelBasic)
	var le *LevelError
	if !errors.Is(err, ErrLevelTooLow) || !errors.As(err, &le) || le.Want != LevelBasic {
		t.Fatalf("err = %v", err)
	}
	if err := Require(none, LevelNone); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"none", "basic", "full"} {
		l, err := ParseLevel(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLevel(%q) = %v, %v", s, l, err)
		}
	}
	if !(LevelNone < LevelBasic && LevelBasic < LevelFull) {
		t.Error("levels out of order")
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []Policy{
		{},
		{WorkDir: "relative"},
		{WorkDir: "/w", ReadOnly: []string{"rel"}},
		{WorkDir: "/w", MemoryBytes: -1},
		{WorkDir: "/w", CPUShares: 1},
		{WorkDir: "/w", WallClock: -time.Second},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%+v: err = %v", p, err)
		}
	}
	if err := (Policy{WorkDir: "/w", CPUShares: 1024}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestCleanupTwice(t *testing.T) {
	t.Parallel()
	sb := driverFor(t, DriverNone)
	l := newLayout(t)
	cmd, inst, _ := start(t, sb, Policy{WorkDir: l.work, PidsMax: 10}, "exit")
	cmd.Wait()
	r1, err1 := inst.Cleanup(context.Background())
	r2, err2 := inst.Cleanup(context.Background())
	if err1 != nil || err2 != nil || !reflect.DeepEqual(r1, r2) {
		t.Fatalf("%+v %v / %+v %v", r1, err1, r2, err2)
	}
	if inst.cg != nil {
		for _, d := range inst.cg.dirs() {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup %s left behind", d)
			}
		}
	}
}

func TestPlanView(t *testing.T) {
	t.Parallel()
	got := planView([]viewMount{
		{Path: "/tmp", Kind: mountTmpfs},
		{Path: "/tmp/a/work", Kind: mountRW},
		{Path: "/usr/lib/x", Kind: mountRO},
		{Path: "/usr", Kind: mountRO},
		{Path: "/tmp/a/work", Kind: mountRO},
		{Path: "/tmp/a/work/ro", Kind: mountRO},
	})
	var paths []string
	for _, m := range got {
		paths = append(paths, m.Path+":"+m.Kind)
	}
	want := "/tmp:tmpfs /usr:ro /tmp/a/work:rw /tmp/a/work/ro:ro"
	if strings.Join(paths, " ") != want {
		t.Fatalf("plan %v, want %s", paths, want)
	}
}

// TestShimNotRegistered: a binary that does not run the shim is caught by the probe.
func TestShimNotRegistered(t *testing.T) {
	t.Parallel()
	_, _, err := New(context.Background(), Config{Shim: []string{"/bin/true"}}, DriverNone)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "sandbox.InitMain") {
		t.Fatalf("err = %v", err)
	}
}
