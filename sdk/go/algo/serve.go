package algo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/algos-dev/algos/sdk/internal/wire"
)

// serve runs the protocol: load, then open the response pipe, print the init line on log, and
// answer each request line from stdin until EOF, when it returns nil. It returns an error when
// load fails, when the pipe cannot be opened or written, when log cannot be written, or when
// ctx ends (checked between calls). While apply runs, the process's current call holds the
// call's token and request ID (see Client).
func serve(ctx context.Context, stdin io.Reader, log io.Writer, openOut func() (io.WriteCloser, error),
	load func() error, apply func(input any) (any, error)) error {
	return serveCalls(ctx, current, stdin, log, openOut, load, apply)
}

// serveCalls is serve recording each call in calls (nil: nowhere) instead of the process's
// current call.
func serveCalls(ctx context.Context, calls *callSlot, stdin io.Reader, log io.Writer,
	openOut func() (io.WriteCloser, error), load func() error, apply func(input any) (any, error)) error {
	if apply == nil {
		return errors.New("no apply function")
	}
	if load != nil {
		if err := callLoad(load); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	out, err := openOut()
	if err != nil {
		return fmt.Errorf("open the response pipe: %w", err)
	}
	defer out.Close()
	if _, err := io.WriteString(log, wire.InitLine+"\n"); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	in := bufio.NewReader(stdin)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, readErr := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if err := answer(log, out, line, calls, apply); err != nil {
				return err
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

// answer handles one request line: it calls apply, prints the marker line on log, then writes
// the response line to out.
func answer(log, out io.Writer, line []byte, calls *callSlot, apply func(input any) (any, error)) error {
	resp := respond(line, calls, apply)
	b, err := resp.Line()
	if err != nil {
		b, _ = wire.ErrorResponse(wire.AlgorithmError, fmt.Sprintf("encode the result: %v", err), "").Line()
	}
	if _, err := io.WriteString(log, wire.MarkerLine+"\n"); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	if _, err := out.Write(b); err != nil {
		return fmt.Errorf("write the response pipe: %w", err)
	}
	return nil
}

// respond returns the response to one request line. While apply runs, calls holds the call's
// token and request ID.
func respond(line []byte, calls *callSlot, apply func(input any) (any, error)) wire.Response {
	req, err := wire.ParseRequest(line)
	if err != nil {
		return wire.ErrorResponse(wire.ProtocolError, err.Error(), "")
	}
	input, err := req.Value()
	if err != nil {
		return wire.ErrorResponse(wire.ProtocolError, err.Error(), "")
	}
	calls.begin(req.Call())
	result, err := callApply(apply, input)
	calls.end()
	if err != nil {
		var pe *panicError
		if errors.As(err, &pe) {
			return wire.ErrorResponse(wire.AlgorithmError, pe.Error(), string(pe.stack))
		}
		var ae *Error
		if errors.As(err, &ae) {
			return wire.ErrorResponse(ae.Type, err.Error(), "")
		}
		return wire.ErrorResponse(wire.AlgorithmError, err.Error(), "")
	}
	resp, err := wire.ValueResponse(result)
	if err != nil {
		return wire.ErrorResponse(wire.AlgorithmError, fmt.Sprintf(
			"apply returned a value that cannot be encoded as JSON (%v); return a string, []byte, or a JSON-encodable value", err), "")
	}
	return resp
}

// panicError is a panic recovered from the algorithm's code.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func callApply(apply func(input any) (any, error), input any) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			result, err = nil, &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return apply(input)
}

func callLoad(load func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return load()
}
