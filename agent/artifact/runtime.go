package artifact

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/algos-dev/algos/api"
)

// run runs a build step in dir, appending its output to log.
func run(ctx context.Context, dir string, env []string, log *bytes.Buffer, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, log, log
	cmd.WaitDelay = 5 * 1e9
	fmt.Fprintf(log, "$ %s\n", strings.Join(argv, " "))
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %s timed out", ErrBuild, filepath.Base(argv[0]))
		}
		return fmt.Errorf("%w: %s: %v\n%s", ErrBuild, strings.Join(argv, " "), err, tail(log.Bytes(), 4000))
	}
	return nil
}

// findPython resolves python3 on PATH to its real executable: a shim (pyenv) costs tens of
// milliseconds per worker start.
func findPython() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		return "", fmt.Errorf("no python3 on this node: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (c *Cache) python() (string, error) {
	if c.cfg.Python != "" {
		return c.cfg.Python, nil
	}
	return c.pythonOnce()
}

// preparePython writes the runner and the package beside it and, when the source has a
// requirements.txt, builds a virtualenv with the requirements installed.
func (c *Cache) preparePython(ctx context.Context, dir, src string, m api.Manifest) (*Prepared, error) {
	py, err := c.python()
	if err != nil {
		return nil, err
	}
	runner := filepath.Join(dir, "runner.py")
	if err := os.WriteFile(runner, c.cfg.PythonRunner, 0o644); err != nil {
		return nil, err
	}
	for rel, b := range c.cfg.PythonPackage {
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return nil, fmt.Errorf("artifact: Python package file %q is not a relative path", rel)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	env := baseEnv("")
	if _, err := os.Stat(filepath.Join(src, "requirements.txt")); err == nil {
		venv := filepath.Join(dir, "venv")
		marker := filepath.Join(venv, ".algos-ready")
		if _, err := os.Stat(marker); err != nil {
			var log bytes.Buffer
			_ = os.RemoveAll(venv)
			if err := run(ctx, src, baseEnv(""), &log, py, "-m", "venv", venv); err != nil {
				return nil, err
			}
			pip := []string{filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", "requirements.txt"}
			if err := run(ctx, src, append(baseEnv(filepath.Join(venv, "bin")), "PIP_NO_CACHE_DIR=1"), &log, pip...); err != nil {
				return nil, err
			}
			if err := os.WriteFile(marker, log.Bytes(), 0o644); err != nil {
				return nil, err
			}
		}
		py = filepath.Join(venv, "bin", "python")
		env = append(baseEnv(filepath.Join(venv, "bin")), "VIRTUAL_ENV="+venv)
	}
	return &Prepared{Dir: src, Argv: []string{py, "-u", runner, m.Entrypoint[0]}, Env: env}, nil
}

func (c *Cache) goBin() string {
	if c.cfg.Go != "" {
		return c.cfg.Go
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// prepareGo builds the algorithm with its own go.mod, in a workspace that also holds the algos
// Go SDK, so the SDK resolves without a module download.
func (c *Cache) prepareGo(ctx context.Context, dir, src string, m api.Manifest) (*Prepared, error) {
	bin := filepath.Join(dir, "algo")
	if _, err := os.Stat(bin); err == nil {
		return &Prepared{Dir: src, Argv: []string{bin}, Env: baseEnv("")}, nil
	}
	goBin := c.goBin()
	sdk := filepath.Join(dir, "sdk")
	for rel, b := range c.cfg.GoSDK {
		p := filepath.Join(sdk, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	var log bytes.Buffer
	verOut, err := exec.CommandContext(ctx, goBin, "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("%w: no Go toolchain on this node (%v)", ErrBuild, err)
	}
	goVer := strings.TrimPrefix(strings.TrimSpace(string(verOut)), "go")
	work := fmt.Sprintf("go %s\n\nuse (\n\t%q\n\t%q\n)\n", goVer, src, sdk)
	workFile := filepath.Join(dir, "go.work")
	if err := os.WriteFile(workFile, []byte(work), 0o644); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "GOWORK="+workFile, "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	tmp := bin + ".tmp"
	if err := run(ctx, src, env, &log, goBin, "build", "-trimpath", "-o", tmp, m.Entrypoint[0]); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, bin); err != nil {
		return nil, err
	}
	return &Prepared{Dir: src, Argv: []string{bin}, Env: baseEnv("")}, nil
}

// prepareExec wraps the program in the exec runner of the algos binary.
func (c *Cache) prepareExec(src string, m api.Manifest) (*Prepared, error) {
	algos := c.cfg.Algos
	if algos == "" {
		var err error
		if algos, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	out := m.Output
	if out == "" {
		out = "auto"
	}
	argv := append([]string{algos, "runner", "exec", "--output", out, "--"}, m.Entrypoint...)
	return &Prepared{Dir: src, Argv: argv, Env: baseEnv("")}, nil
}
