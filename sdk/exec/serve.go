// Package execrunner implements `algos runner exec`: it serves the agent ↔ worker protocol
// (docs/worker-protocol.md) for an unmodified program, which it runs once per call with the input
// on its stdin, taking its stdout as the result and copying its stderr to the log.
//
// The command wires it up as:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	err := execrunner.Serve(ctx, execrunner.Config{
//		Argv: args, Output: output, Stdin: os.Stdin, Log: os.Stdout,
//	})
//
// Each run of the program has a process group of its own, which Serve kills when ctx ends: the
// command must end ctx on SIGTERM, as the agent's signal to the worker's group does not reach it.
// Its environment is the runner's plus, when the request line carries them, the call's token and
// request ID as ALGOS_CALL_TOKEN and ALGOS_REQUEST_ID, so that a program calling other algorithms
// or the Data API (through ALGORITHMIA_API) acts for the caller of this call.
package execrunner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// Serve checks that the program exists, opens the response pipe, prints PIPE_INIT_COMPLETE on
// cfg.Log and answers each request line from cfg.Stdin by running the program once. It returns
// nil at EOF on cfg.Stdin; ctx.Err() when ctx ends (a running program's process group is killed
// and its call gets no response); an error wrapping ErrInvalidConfig or ErrProgramNotFound before
// it is ready; or an error when it cannot read requests or write the log or the pipe. A failing
// program fails only its call. Serve blocks opening the pipe until the agent has it open.
func Serve(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	prog, err := resolve(cfg.Argv)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(cfg.PipePath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open the response pipe: %w", err)
	}
	defer out.Close()
	log := &lineWriter{w: cfg.Log}
	if err := log.controlLine(wire.InitLine); err != nil {
		return err
	}
	in := bufio.NewReader(cfg.Stdin)
	for {
		line, readErr := readLine(ctx, in)
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) > 0 {
			resp, err := call(ctx, prog, cfg.Output, line, log)
			if err != nil {
				return err
			}
			b, err := resp.Line()
			if err != nil {
				b, _ = wire.ErrorResponse(wire.AlgorithmError, fmt.Sprintf("encode the result: %v", err), "").Line()
			}
			if err := log.controlLine(wire.MarkerLine); err != nil {
				return err
			}
			if _, err := out.Write(b); err != nil {
				return fmt.Errorf("write the response pipe: %w", err)
			}
		}
		if readErr == io.EOF {
			return nil
		}
		if readErr != nil {
			return fmt.Errorf("read request: %w", readErr)
		}
	}
}

// call answers one request line. It fails only when ctx ends.
func call(ctx context.Context, prog program, mode string, line []byte, log io.Writer) (wire.Response, error) {
	req, err := wire.ParseRequest(line)
	if err != nil {
		return wire.ErrorResponse(wire.ProtocolError, err.Error(), ""), nil
	}
	input, err := req.Bytes()
	if err != nil {
		return wire.ErrorResponse(wire.ProtocolError, err.Error(), ""), nil
	}
	stdout, err := prog.run(ctx, input, req.Call().Env(), log)
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return wire.Response{}, err
	}
	if err != nil {
		return wire.ErrorResponse(wire.AlgorithmError, err.Error(), ""), nil
	}
	return result(mode, stdout), nil
}

// readLine reads one line, or returns ctx.Err() as soon as ctx ends. After that the reader must
// not be used again: the read goes on in the background.
func readLine(ctx context.Context, in *bufio.Reader) ([]byte, error) {
	type lineErr struct {
		line []byte
		err  error
	}
	done := make(chan lineErr, 1)
	go func() {
		line, err := in.ReadBytes('\n')
		done <- lineErr{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lineWriter is the log: it remembers whether what was written ends a line, so that the control
// lines always start one.
type lineWriter struct {
	w       io.Writer
	midLine bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.midLine = p[n-1] != '\n'
	}
	return n, err
}

// controlLine prints one of the protocol's control lines on a line of its own.
func (l *lineWriter) controlLine(s string) error {
	if l.midLine {
		s = "\n" + s
	}
	if _, err := io.WriteString(l, s+"\n"); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}
