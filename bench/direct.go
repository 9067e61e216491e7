package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// directWorker is a worker process driven over the worker protocol by the benchmark itself.
type directWorker struct {
	cmd   *exec.Cmd
	stdin *os.File
	out   *bufio.Reader
	fifo  *os.File
}

func startDirect(ctx context.Context, bin, dir string, n int) ([]*directWorker, error) {
	var ws []*directWorker
	for i := 0; i < n; i++ {
		fifo := filepath.Join(dir, fmt.Sprintf("direct-%d.fifo", i))
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			return ws, err
		}
		f, err := os.OpenFile(fifo, os.O_RDWR, 0)
		if err != nil {
			return ws, err
		}
		inR, inW, err := os.Pipe()
		if err != nil {
			return ws, err
		}
		logR, logW, err := os.Pipe()
		if err != nil {
			return ws, err
		}
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"ALGOS_PIPE_OUT=" + fifo, "PATH=/usr/bin:/bin"}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, logW, logW
		if err := cmd.Start(); err != nil {
			return ws, err
		}
		inR.Close()
		logW.Close()
		logs := bufio.NewReader(logR)
		for {
			l, err := logs.ReadString('\n')
			if err != nil {
				return ws, errors.New("direct worker exited before PIPE_INIT_COMPLETE")
			}
			if strings.TrimSpace(l) == "PIPE_INIT_COMPLETE" {
				break
			}
		}
		go func() { _, _ = logs.WriteTo(discard{}) }() // keep draining the log pipe
		ws = append(ws, &directWorker{cmd: cmd, stdin: inW, out: bufio.NewReaderSize(f, 64<<10), fifo: f})
	}
	return ws, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (w *directWorker) call(line []byte) error {
	if _, err := w.stdin.Write(line); err != nil {
		return err
	}
	resp, err := w.out.ReadBytes('\n')
	if err != nil {
		return err
	}
	if len(resp) < 10 || string(resp[:9]) == `{"error":` {
		return fmt.Errorf("worker answered %s", resp)
	}
	return nil
}

func (w *directWorker) close() {
	w.stdin.Close()
	_ = w.cmd.Wait()
	w.fifo.Close()
}
