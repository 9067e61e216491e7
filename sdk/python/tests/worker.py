"""The agent's side of the worker protocol (docs/worker-protocol.md), for tests that run
runner.py, with the Algorithmia package beside it, as the node agent does."""

import glob
import json
import os
import select
import shutil
import subprocess
import sys
import time

SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INIT_LINE = b"PIPE_INIT_COMPLETE"
MARKER_LINE = b"--ALGOS-CALL-END--"
TIMEOUT = 60


class Worker(object):
    """Writes runner.py and the package to tmp/runner and files to tmp/src, creates the FIFO
    (opened read-write, so it never reports EOF) and starts the runner on entrypoint."""

    def __init__(self, tmp, files, entrypoint, env=None):
        runner_dir = os.path.join(tmp, "runner")
        os.makedirs(os.path.join(runner_dir, "Algorithmia"))
        shutil.copy(os.path.join(SDK, "runner.py"), runner_dir)
        for path in glob.glob(os.path.join(SDK, "Algorithmia", "*.py")):
            shutil.copy(path, os.path.join(runner_dir, "Algorithmia"))
        src = os.path.join(tmp, "src")
        for name, text in files.items():
            path = os.path.join(src, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        fifo = os.path.join(tmp, "algoout")
        os.mkfifo(fifo, 0o600)
        self.fifo = os.open(fifo, os.O_RDWR)
        self._fifo_buf = b""
        self._log_buf = b""
        self.transcript = b""  # all of the log read so far
        full_env = dict(os.environ, ALGOS_PIPE_OUT=fifo, PYTHONDONTWRITEBYTECODE="1")
        full_env.pop("PYTHONPATH", None)  # the agent's workers do not inherit the tests' path
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(runner_dir, "runner.py"), entrypoint],
            cwd=src, env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        os.close(self.fifo)

    def _line(self, fd, attr):
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in getattr(self, attr):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError("no line from the worker within %ds; log: %r" % (TIMEOUT, self.transcript))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("the worker closed its log (exit status %s); log: %r" % (self.proc.poll(), self.transcript))
            if attr == "_log_buf":
                self.transcript += chunk
            setattr(self, attr, getattr(self, attr) + chunk)
        line, rest = getattr(self, attr).split(b"\n", 1)
        setattr(self, attr, rest)
        return line

    def log_until(self, control):
        """Returns the log lines before the control line."""
        lines = []
        while True:
            line = self._line(self.proc.stdout.fileno(), "_log_buf")
            if line == control:
                return [x.decode() for x in lines]
            lines.append(line)

    def wait_init(self):
        return self.log_until(INIT_LINE)

    def call(self, request):
        """Sends one request (a dict, or a line as str) and returns (response, log lines)."""
        line = request if isinstance(request, str) else json.dumps(request)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        log = self.log_until(MARKER_LINE)
        return json.loads(self._line(self.fifo, "_fifo_buf")), log

    def finish(self):
        """Closes stdin and returns the exit code and the rest of the log."""
        self.proc.stdin.close()
        rest = self._log_buf + self.proc.stdout.read()
        return self.proc.wait(timeout=TIMEOUT), rest.decode()

    def exit_log(self):
        """For a worker that fails to start: its exit code and log."""
        out = self._log_buf + self.proc.stdout.read()
        return self.proc.wait(timeout=TIMEOUT), out.decode()
