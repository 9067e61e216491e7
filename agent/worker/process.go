package worker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/algos-dev/algos/agent/sandbox"
)

// Protocol constants (docs/worker-protocol.md).
const (
	initLine    = "PIPE_INIT_COMPLETE"
	callEndLine = "--ALGOS-CALL-END--"
	pipeOutEnv  = "ALGOS_PIPE_OUT"
	fifoName    = "out"
)

// drainTimeout bounds how long, after the worker's process group was killed, the process
// waits for EOF on the log pipe and on the FIFO. Only a descendant that left the group
// (setsid) and kept the descriptors open makes it matter; the readers are then closed.
const drainTimeout = 2 * time.Second

// sandboxCleanupTimeout bounds the sandbox's cleanup after the worker exited.
const sandboxCleanupTimeout = 10 * time.Second

// procConfig is what startProcess needs.
type procConfig struct {
	id          string
	dir         string // per-worker directory; holds the FIFO, removed after exit
	spec        Spec
	keyLog      *logRing // the Key's recent log, shared by its workers
	ringBytes   int
	maxResponse int
	maxCallLog  int
	markerWait  time.Duration
	logger      *slog.Logger
}

// process is one running worker process: its pipes, its readers and its protocol state.
// It knows nothing of pools or keys. call must not run concurrently with itself; signal and
// kill are safe at any time, also after exit (they then do nothing).
type process struct {
	cfg   procConfig
	cmd   *exec.Cmd
	pid   int
	stdin *os.File // write end of the worker's stdin
	logR  *os.File // read end of the worker's stdout+stderr
	fifo  *os.File // read end of the FIFO (O_RDONLY|O_NONBLOCK)
	// fifoKeep is a write end of the FIFO held by us while the worker runs, so that the reader
	// never sees EOF because no writer is open. Closed after the worker's group is dead: the
	// reader then drains what the worker wrote and ends at a real EOF.
	fifoKeep *os.File
	ring     *logRing
	box      *sandbox.Instance // nil without Spec.Sandbox

	ready    chan struct{} // closed when PIPE_INIT_COMPLETE was read
	logDone  chan struct{} // closed when the log reader ended
	fifoDone chan struct{} // closed when the FIFO reader ended
	exited   chan struct{} // closed when the process is reaped and all its files are closed
	exitCode int           // valid after exited
	exitSig  syscall.Signal
	readers  sync.WaitGroup

	sigMu  sync.Mutex // orders signals before the reap, so a reused pid is never signalled
	reaped bool

	mu        sync.Mutex
	readySeen bool
	cur       *activeCall
	killed    bool // killed by us (timeout, protocol error, bad response)
	gone      bool // the process exited (set before the drain; exited comes later)
}

// activeCall is the protocol state of the call in flight; guarded by process.mu.
type activeCall struct {
	resp       chan fifoLine // capacity 1; at most one send
	delivered  bool
	marker     chan struct{} // closed when --ALGOS-CALL-END-- was read
	markerSeen bool
	capture    *capture // nil without CallOptions.CaptureLog
}

type fifoLine struct {
	line []byte
	err  error
}

// startProcess creates the FIFO, starts the worker and its readers. It does not wait for
// PIPE_INIT_COMPLETE (see ready). On error nothing is left running and dir is removed.
func startProcess(cfg procConfig) (_ *process, err error) {
	p := &process{
		cfg:      cfg,
		ring:     newLogRing(cfg.ringBytes),
		ready:    make(chan struct{}),
		logDone:  make(chan struct{}),
		fifoDone: make(chan struct{}),
		exited:   make(chan struct{}),
	}
	var toClose []*os.File
	defer func() {
		if err != nil {
			for _, f := range toClose {
				f.Close()
			}
			os.RemoveAll(cfg.dir)
		}
	}()
	fifoPath := filepath.Join(cfg.dir, fifoName)
	if err := syscall.Mkfifo(fifoPath, 0o600); err != nil {
		return nil, fmt.Errorf("create FIFO: %w", err)
	}
	// O_NONBLOCK: opening for reading does not wait for a writer.
	if p.fifo, err = os.OpenFile(fifoPath, os.O_RDONLY|syscall.O_NONBLOCK, 0); err != nil {
		return nil, fmt.Errorf("open FIFO: %w", err)
	}
	toClose = append(toClose, p.fifo)
	// A reader exists, so this open does not block either.
	if p.fifoKeep, err = os.OpenFile(fifoPath, os.O_WRONLY, 0); err != nil {
		return nil, fmt.Errorf("open FIFO: %w", err)
	}
	toClose = append(toClose, p.fifoKeep)
	logW, stdinR := (*os.File)(nil), (*os.File)(nil)
	if p.logR, logW, err = os.Pipe(); err != nil {
		return nil, err
	}
	toClose = append(toClose, p.logR, logW)
	if stdinR, p.stdin, err = os.Pipe(); err != nil {
		return nil, err
	}
	toClose = append(toClose, stdinR, p.stdin)

	argv := cfg.spec.Argv
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = cfg.spec.Dir
	cmd.Env = append(append([]string(nil), cfg.spec.Env...), pipeOutEnv+"="+fifoPath)
	cmd.Stdin = stdinR
	cmd.Stdout = logW
	cmd.Stderr = logW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if sb := cfg.spec.Sandbox; sb != nil {
		pol := cfg.spec.SandboxPolicy
		pol.WorkDir = cfg.dir
		if p.box, err = sb.Wrap(cmd, pol); err != nil {
			return nil, fmt.Errorf("sandbox %s: %w", sb.Name(), err)
		}
	}
	if err := cmd.Start(); err != nil {
		if p.box != nil {
			p.box.Cleanup(context.Background())
		}
		return nil, err
	}
	// The child has its copies; ours would keep EOF from ever coming.
	stdinR.Close()
	logW.Close()
	p.cmd = cmd
	p.pid = cmd.Process.Pid

	p.readers.Add(2)
	go p.readLog()
	go p.readFIFO()
	go p.supervise()
	return p, nil
}

// readLog reads the worker's stdout+stderr until EOF, continuously, so a chatty worker never
// blocks on a full pipe. It recognises the two control lines and routes every other byte to
// the worker's ring, the Key's ring and the current call's capture.
func (p *process) readLog() {
	defer p.readers.Done()
	defer close(p.logDone)
	br := bufio.NewReaderSize(p.logR, 64<<10)
	atLineStart := true
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			complete := frag[len(frag)-1] == '\n'
			if !(atLineStart && complete && p.control(frag)) {
				p.logBytes(frag)
			}
			atLineStart = complete
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// control handles a control line and reports whether line was one.
func (p *process) control(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.readySeen {
		if string(line) == initLine {
			p.readySeen = true
			close(p.ready)
			return true
		}
		return false
	}
	if string(line) != callEndLine {
		return false
	}
	if c := p.cur; c != nil && !c.markerSeen {
		c.markerSeen = true
		close(c.marker)
	}
	return true
}

func (p *process) logBytes(b []byte) {
	p.ring.Write(b)
	p.cfg.keyLog.Write(b)
	p.mu.Lock()
	if c := p.cur; c != nil && c.capture != nil && !c.markerSeen {
		c.capture.write(b)
	}
	p.mu.Unlock()
}

// readFIFO reads response lines until EOF (after the worker is gone) and hands each to the
// call in flight.
func (p *process) readFIFO() {
	defer p.readers.Done()
	defer close(p.fifoDone)
	br := bufio.NewReaderSize(p.fifo, 64<<10)
	for {
		line, err := readLine(br, p.cfg.maxResponse)
		if len(line) > 0 || err == nil || errors.Is(err, ErrResponseTooLarge) {
			p.deliver(fifoLine{line: line, err: err})
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line without its newline. A last line without a newline is returned
// with io.EOF.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > limit+1 {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case err == bufio.ErrBufferFull:
			continue
		default:
			return line, err
		}
	}
}

func (p *process) deliver(l fifoLine) {
	p.mu.Lock()
	c := p.cur
	ok := c != nil && !c.delivered
	if ok {
		c.delivered = true
		c.resp <- l
	}
	p.mu.Unlock()
	if !ok {
		p.cfg.logger.Warn("worker wrote a response while no call was in flight; killing it",
			"worker_id", p.cfg.id)
		p.kill()
	}
}

// supervise waits for the worker to exit, kills what is left of its process group, drains
// and closes its pipes, reaps it, removes its directory and closes exited.
func (p *process) supervise() {
	var info unix.Siginfo
	for {
		// WNOWAIT: the exited leader stays a zombie, so its pid (the group id) cannot be
		// reused while we kill the rest of the group.
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	p.gone = true
	p.mu.Unlock()
	p.signal(syscall.SIGKILL)
	p.killTree()
	p.fifoKeep.Close()
	p.waitDrained(p.logDone, p.logR)
	p.waitDrained(p.fifoDone, p.fifo)

	p.sigMu.Lock()
	p.reaped = true
	p.sigMu.Unlock()
	p.cmd.Wait() // the exit status is in ProcessState; the error only repeats it
	p.exitCode, p.exitSig = -1, 0
	if ps := p.cmd.ProcessState; ps == nil {
		p.cfg.logger.Error("reap worker: no exit status", "worker_id", p.cfg.id)
	} else if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			p.exitSig = ws.Signal()
		} else {
			p.exitCode = ws.ExitStatus()
		}
	}
	p.stdin.Close()
	p.logR.Close()
	p.fifo.Close()
	p.readers.Wait()
	p.cleanupSandbox()
	if err := os.RemoveAll(p.cfg.dir); err != nil {
		p.cfg.logger.Warn("remove worker directory", "worker_id", p.cfg.id, "error", err)
	}
	close(p.exited)
}

func (p *process) waitDrained(done <-chan struct{}, f *os.File) {
	t := time.NewTimer(drainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.cfg.logger.Warn("a descendant that left the process group holds the worker's pipes; closing them",
			"worker_id", p.cfg.id)
		f.Close() // unblocks the reader
		<-done
	}
}

// signal sends sig to the worker's process group. Safe concurrently; a no-op once reaped.
func (p *process) signal(sig syscall.Signal) {
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pid, sig)
	}
}

// kill SIGKILLs the worker's process group (and its sandbox's tree) and marks the worker as
// not reusable.
func (p *process) kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	p.signal(syscall.SIGKILL)
	p.killTree()
}

// killTree SIGKILLs the whole tree of a sandboxed worker, descendants that left the process
// group included. A no-op without a sandbox.
func (p *process) killTree() {
	if p.box == nil {
		return
	}
	if err := p.box.Kill(); err != nil {
		p.cfg.logger.Warn("kill the worker's sandbox", "error", err)
	}
}

// cleanupSandbox releases the sandbox of a reaped worker, takes the program's own exit status
// from it (the process we reaped is the sandbox's shim), and adds what the sandbox saw of the
// end (out of memory, wall clock) to the worker's log.
func (p *process) cleanupSandbox() {
	if p.box == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sandboxCleanupTimeout)
	rep, err := p.box.Cleanup(ctx)
	cancel()
	if err != nil {
		p.cfg.logger.Warn("clean up the worker's sandbox", "error", err)
	}
	if rep.Exited {
		p.exitCode, p.exitSig = rep.ExitCode, rep.Signal
	}
	if s := rep.String(); s != "" {
		p.cfg.logger.Warn("worker ended by its sandbox", "reason", string(rep.Reason))
		line := []byte(s + "\n")
		p.ring.Write(line)
		p.cfg.keyLog.Write(line)
	}
}

// usable reports whether the worker may serve another call.
func (p *process) usable() bool {
	select {
	case <-p.exited:
		return false
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.killed && !p.gone
}

func (p *process) diedError() *DiedError {
	return &DiedError{WorkerID: p.cfg.id, ExitCode: p.exitCode, Signal: p.exitSig, Log: p.ring.Bytes()}
}

// startError describes a worker that exited before PIPE_INIT_COMPLETE; call after exited.
func (p *process) startError(timedOut bool) *StartError {
	return &StartError{WorkerID: p.cfg.id, TimedOut: timedOut, ExitCode: p.exitCode,
		Signal: p.exitSig, Log: p.ring.Bytes()}
}

// callResult is what one call on a process produced.
type callResult struct {
	response     []byte
	log          []byte
	logTruncated bool
	duration     time.Duration
}

// aLongTimeAgo is an expired write deadline: setting it unblocks a pending write.
var aLongTimeAgo = time.Unix(1, 0)

// call sends one request line (with its trailing newline) and waits for the response. It
// blocks until the response came (and the end marker, at most markerWait longer), the worker
// exited, or ctx ended; in the last case it kills the worker before returning ctx's error
// (mapped by ctxError). Not safe concurrently with itself.
func (p *process) call(ctx context.Context, req []byte, captureLog bool) (callResult, error) {
	c := &activeCall{resp: make(chan fifoLine, 1), marker: make(chan struct{})}
	if captureLog {
		c.capture = &capture{max: p.cfg.maxCallLog}
	}
	p.mu.Lock()
	p.cur = c
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
	}()
	start := time.Now()

	// The write blocks while the worker does not read; an expired deadline set when ctx ends
	// unblocks it, and the supervisor's Close does when the worker exits.
	stop := context.AfterFunc(ctx, func() { p.stdin.SetWriteDeadline(aLongTimeAgo) })
	_, werr := p.stdin.Write(req)
	if !stop() {
		// The deadline is or will be set: this worker's stdin is spoilt, so it must go.
		p.kill()
		return callResult{}, ctxError(ctx, "running the call")
	}
	if werr != nil {
		// The worker exited or closed its stdin: it cannot serve calls. Make sure it is gone
		// and let the supervisor say how it ended.
		p.kill()
		select {
		case <-p.exited:
			l, err := p.afterExit(c)
			return p.finish(c, start, l, err)
		case <-ctx.Done():
			p.kill()
			return callResult{}, ctxError(ctx, "running the call")
		}
	}

	select {
	case l := <-c.resp:
		return p.finish(c, start, l, nil)
	case <-p.exited:
		l, err := p.afterExit(c)
		return p.finish(c, start, l, err)
	case <-ctx.Done():
		p.kill()
		return callResult{}, ctxError(ctx, "running the call")
	}
}

// afterExit returns the response the worker wrote before it exited, if any (the FIFO was
// drained to EOF before exited closed), else a *DiedError.
func (p *process) afterExit(c *activeCall) (fifoLine, error) {
	select {
	case l := <-c.resp:
		return l, nil
	default:
		return fifoLine{}, p.diedError()
	}
}

// finish waits for the end marker (at most markerWait) and collects the call's log.
func (p *process) finish(c *activeCall, start time.Time, l fifoLine, err error) (callResult, error) {
	res := callResult{duration: time.Since(start)}
	if err == nil && l.err != nil && !errors.Is(l.err, io.EOF) {
		err = l.err
		p.kill()
	}
	if err == nil {
		p.mu.Lock()
		seen := c.markerSeen
		p.mu.Unlock()
		if !seen {
			t := time.NewTimer(p.cfg.markerWait)
			select {
			case <-c.marker:
			case <-p.logDone:
			case <-t.C:
			}
			t.Stop()
		}
		res.response = l.line
	}
	p.mu.Lock()
	if c.capture != nil {
		res.log, res.logTruncated = c.capture.result()
	}
	p.cur = nil
	p.mu.Unlock()
	return res, err
}

// ctxError maps ctx's end to ErrTimeout (deadline) or passes context.Canceled through.
func ctxError(ctx context.Context, doing string) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w while %s: %w", ErrTimeout, doing, err)
	}
	return fmt.Errorf("worker: call ended while %s: %w", doing, err)
}
