package execrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

const (
	// pipeGrace bounds the wait for the program's pipes to close once its process group is
	// gone; only a process that left the group can hold them open longer.
	pipeGrace = 2 * time.Second
	// stderrTailBytes and stderrTailLines bound the stderr quoted in an ExitError.
	stderrTailBytes = 4 << 10
	stderrTailLines = 10
)

// program is a resolved program and its arguments.
type program struct {
	path string   // absolute path
	argv []string // as configured
}

// resolve finds the program: a name with a slash relative to the working directory, one without
// in $PATH. It fails with ErrProgramNotFound.
func resolve(argv []string) (program, error) {
	name := argv[0]
	if strings.Contains(name, "/") {
		abs, err := filepath.Abs(name)
		if err == nil {
			_, err = exec.LookPath(abs) // checks that it is an executable file
		}
		if err != nil {
			return program{}, fmt.Errorf("%w: %s: %v", ErrProgramNotFound, name, err)
		}
		return program{path: abs, argv: argv}, nil
	}
	path, err := exec.LookPath(name)
	if err == nil {
		if path, err = filepath.Abs(path); err == nil {
			return program{path: path, argv: argv}, nil
		}
	}
	hint := ""
	if _, statErr := os.Stat(name); statErr == nil {
		hint = fmt.Sprintf("; to run the %s in the working directory, name it ./%s", name, name)
	}
	return program{}, fmt.Errorf("%w: %s is not in $PATH%s", ErrProgramNotFound, name, hint)
}

// run runs the program once in a process group of its own, with input on its stdin and its
// stderr copied to log, and returns its stdout. Its environment is the runner's followed by
// callEnv, the call's token and request ID (programEnv). It fails with an *ExitError when the
// program exits non-zero or is killed, with ctx.Err() when ctx ends (the group is then killed),
// or with another error when the program cannot start. Processes the program leaves behind in
// its group are killed when it exits.
func (p program) run(ctx context.Context, input []byte, callEnv []string, log io.Writer) ([]byte, error) {
	var files []*os.File // every pipe end this call opened, closed on return
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:   p.path,
		Args:   p.argv,
		Env:    programEnv(os.Environ(), callEnv),
		Stdin:  inR,
		Stdout: outW,
		Stderr: errW,
		// A group of its own, so that killing it spares the runner. The agent's signals to the
		// worker's group do not reach it: SIGTERM ends ctx (the command's job), and should the
		// runner be killed outright, Pdeathsig takes the program down with it.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	startErr := cmd.Start()
	// The child has its own copies; closing the parent's lets the readers see EOF.
	for _, f := range []*os.File{inR, outW, errW} {
		_ = f.Close()
	}
	if startErr != nil {
		return nil, fmt.Errorf("start %s: %w", p.argv[0], startErr)
	}
	pgid := cmd.Process.Pid
	killGroup := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	stopKill := context.AfterFunc(ctx, killGroup)

	var stdout bytes.Buffer
	stderr := &stderrSink{log: log, tail: newTail(stderrTailBytes)}
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = inW.Write(input) // a program that does not read its input gets EPIPE here
		_ = inW.Close()
	})
	wg.Go(func() { _, _ = io.Copy(&stdout, outR) })
	wg.Go(func() { _, _ = io.Copy(stderr, errR) })

	waitErr := cmd.Wait()
	stopKill()
	killGroup() // what the program left behind
	copied := make(chan struct{})
	go func() {
		wg.Wait()
		close(copied)
	}()
	select {
	case <-copied:
	case <-time.After(pipeGrace):
		for _, f := range []*os.File{inW, outR, errR} {
			_ = f.Close() // unblocks the copies
		}
		<-copied
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return nil, fmt.Errorf("run %s: %w", p.argv[0], waitErr)
		}
		xe := &ExitError{Program: p.argv[0], Status: ee.ExitCode(), StderrTail: stderr.tail.lines(stderrTailLines)}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			xe.Signal = fmt.Sprintf("%d (%v)", int(ws.Signal()), ws.Signal())
		}
		return nil, xe
	}
	return stdout.Bytes(), nil
}

// programEnv returns base without the call variables, followed by callEnv: a program sees the
// token of its own call only, never one left in the runner's environment.
func programEnv(base, callEnv []string) []string {
	env := make([]string, 0, len(base)+len(callEnv))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if name == wire.TokenEnv || name == wire.RequestIDEnv {
			continue
		}
		env = append(env, kv)
	}
	return append(env, callEnv...)
}

// stderrSink copies the program's stderr to the log and keeps its tail. It never fails, so that
// the program is never blocked by a broken log; Serve notices that when it writes the marker.
type stderrSink struct {
	log    io.Writer
	logErr error
	tail   *tail
}

func (s *stderrSink) Write(p []byte) (int, error) {
	s.tail.Write(p)
	if s.logErr == nil {
		_, s.logErr = s.log.Write(p)
	}
	return len(p), nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
	cut bool // bytes were dropped from the front
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
}

// lines returns the last n complete lines kept, without the final newline.
func (t *tail) lines(n int) string {
	s := strings.TrimRight(string(t.buf), "\n")
	if t.cut {
		// The first line kept is likely partial.
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	all := strings.Split(s, "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}
