// Package workertest is the agent side of the worker protocol (docs/worker-protocol.md) for
// tests of the runners in sdk/: it creates the FIFO and pipes the agent would, starts a worker
// process or hands the worker ends to an in-process runner, and drives calls, checking that every
// response follows its marker line.
package workertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// Timeout bounds every wait of the agent side; it is generous because test machines are shared.
const Timeout = 60 * time.Second

// Ends are the worker's side of the connection: what a runner reads requests from, prints its
// log to, and writes responses to.
type Ends struct {
	Stdin    *os.File
	Log      *os.File
	PipePath string
}

// Agent is the agent's side of the connection to one worker. It is not safe for concurrent use.
type Agent struct {
	t      testing.TB
	stdin  *os.File
	log    *os.File
	logBuf []byte
	fifo   *os.File
	resp   *bufio.Reader
}

// New creates the FIFO (opened read-write, so that it never reports EOF) and the stdin and log
// pipes. The caller hands the Ends to the worker and closes them once the worker has them.
func New(t testing.TB) (*Agent, Ends) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "algoout")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	fifo, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open fifo: %v", err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	t.Cleanup(func() {
		for _, f := range []*os.File{fifo, inR, inW, logR, logW} {
			_ = f.Close()
		}
	})
	a := &Agent{t: t, stdin: inW, log: logR, fifo: fifo, resp: bufio.NewReader(fifo)}
	return a, Ends{Stdin: inR, Log: logW, PipePath: path}
}

// Process is a worker running as a child process.
type Process struct {
	*Agent
	done chan struct{}
	err  error
}

// Start starts cmd as a worker: stdout and stderr share one pipe, and ALGOS_PIPE_OUT names the
// FIFO. The process is killed at cleanup if it is still running.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	a, ends := New(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ends.Stdin, ends.Log, ends.Log
	cmd.Env = append(cmd.Environ(), wire.PipeEnv+"="+ends.PipePath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	_ = ends.Stdin.Close()
	_ = ends.Log.Close()
	p := &Process{Agent: a, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Wait waits for the process to exit and returns its exit code.
func (p *Process) Wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(Timeout):
		p.t.Fatalf("worker did not exit within %v", Timeout)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		p.t.Fatalf("wait: %v", p.err)
		return -1
	}
}

// CloseStdin closes the worker's stdin: EOF tells it to exit.
func (a *Agent) CloseStdin() {
	if err := a.stdin.Close(); err != nil {
		a.t.Errorf("close stdin: %v", err)
	}
}

// WaitInit waits for PIPE_INIT_COMPLETE and returns the log lines printed before it.
func (a *Agent) WaitInit() []string {
	a.t.Helper()
	deadline := time.Now().Add(Timeout)
	var lines []string
	for {
		line, err := a.logLine(deadline)
		if err != nil {
			a.t.Fatalf("worker log ended before %s (%v); log: %q", wire.InitLine, err, lines)
		}
		if line == wire.InitLine {
			return lines
		}
		lines = append(lines, line)
	}
}

// ReadLog reads the log to its end (all writers closed) and returns it.
func (a *Agent) ReadLog() string {
	a.t.Helper()
	if err := a.log.SetReadDeadline(time.Now().Add(Timeout)); err != nil {
		a.t.Fatalf("set deadline: %v", err)
	}
	rest, err := io.ReadAll(a.log)
	if err != nil {
		a.t.Fatalf("read log: %v", err)
	}
	s := string(a.logBuf) + string(rest)
	a.logBuf = nil
	return s
}

// Send writes one request line to the worker's stdin.
func (a *Agent) Send(request string) {
	a.t.Helper()
	if _, err := io.WriteString(a.stdin, request+"\n"); err != nil {
		a.t.Fatalf("write request: %v", err)
	}
}

// Call sends one request line and returns the response and the log lines of the call. It fails
// the test if the marker line had not reached the log when the response arrived.
func (a *Agent) Call(request string) (wire.Response, []string) {
	a.t.Helper()
	a.Send(request)
	if err := a.fifo.SetReadDeadline(time.Now().Add(Timeout)); err != nil {
		a.t.Fatalf("set deadline: %v", err)
	}
	line, err := a.resp.ReadBytes('\n')
	if err != nil {
		a.t.Fatalf("read response: %v (log: %q)", err, a.drainLog())
	}
	// The marker was written before the response, so it is already in the log pipe.
	logged := a.drainLog()
	i := bytes.Index(logged, []byte(wire.MarkerLine+"\n"))
	if i < 0 || (i > 0 && logged[i-1] != '\n') {
		a.t.Fatalf("response %s arrived before the marker line; log: %q", line, logged)
	}
	a.logBuf = logged[i+len(wire.MarkerLine)+1:]
	var callLog []string
	if i > 0 {
		callLog = strings.Split(string(logged[:i-1]), "\n")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var resp wire.Response
	if err := dec.Decode(&resp); err != nil {
		a.t.Fatalf("response %q: %v", line, err)
	}
	if (resp.Error == nil) == (resp.Metadata == nil) {
		a.t.Fatalf("response %s: want exactly one of metadata and error", line)
	}
	return resp, callLog
}

// logLine returns the next complete log line, waiting until deadline.
func (a *Agent) logLine(deadline time.Time) (string, error) {
	buf := make([]byte, 4096)
	for {
		if i := bytes.IndexByte(a.logBuf, '\n'); i >= 0 {
			line := string(a.logBuf[:i])
			a.logBuf = a.logBuf[i+1:]
			return line, nil
		}
		if err := a.log.SetReadDeadline(deadline); err != nil {
			return "", err
		}
		n, err := a.log.Read(buf)
		a.logBuf = append(a.logBuf, buf[:n]...)
		if err != nil {
			return "", err
		}
	}
}

// drainLog returns the buffered log plus whatever the log pipe holds now, without waiting.
func (a *Agent) drainLog() []byte {
	a.t.Helper()
	rc, err := a.log.SyscallConn()
	if err != nil {
		a.t.Fatalf("log pipe: %v", err)
	}
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf)
			return true // never wait: the fd is non-blocking
		}); err != nil {
			a.t.Fatalf("read log: %v", err)
		}
		if n <= 0 || rerr != nil {
			break
		}
		a.logBuf = append(a.logBuf, buf[:n]...)
	}
	out := a.logBuf
	a.logBuf = nil
	return out
}
