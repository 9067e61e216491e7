"""algos Python runner: the worker side of the agent <-> worker protocol (docs/worker-protocol.md).

Usage: python -u runner.py <entrypoint.py>, with the algorithm's source directory as the working
directory. The entrypoint module defines apply(input) and optionally load(); load()'s return value,
when it returns one and apply takes two parameters, is passed as apply(input, state).

Standard library only.
"""

import base64
import binascii
import importlib.util
import inspect
import json
import os
import sys
import traceback

INIT_LINE = "PIPE_INIT_COMPLETE"
MARKER_LINE = "--ALGOS-CALL-END--"
PIPE_ENV = "ALGOS_PIPE_OUT"
DEFAULT_PIPE_PATH = "/tmp/algoout"
ALGORITHM_ERROR = "AlgorithmError"
PROTOCOL_ERROR = "ProtocolError"
ENTRYPOINT_MODULE = "__algos_entrypoint__"


class RunnerError(Exception):
    """A mistake in the algorithm's setup, reported without a traceback."""


class RequestError(Exception):
    """A request line that does not follow the protocol."""


class _LineTracker:
    """Wraps sys.stdout or sys.stderr and remembers whether the text written so far ends a line,
    so that the runner's control lines always start a line of their own."""

    def __init__(self, stream):
        self._stream = stream
        self.at_line_start = True

    def write(self, s):
        n = self._stream.write(s)
        if s:
            self.at_line_start = s.endswith("\n")
        return n

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _Log:
    """The worker's log: the user's stdout and stderr, and the runner's control lines."""

    def __init__(self):
        self._stdout = sys.stdout
        self.out = _LineTracker(sys.stdout)
        self.err = _LineTracker(sys.stderr)
        sys.stdout, sys.stderr = self.out, self.err

    def start_line(self):
        """Flushes what the user printed and ends a line it left open."""
        for stream in (self.err, self.out):
            stream.flush()
            if not stream.at_line_start:
                stream.write("\n")
                stream.flush()

    def control(self, line):
        """Prints one of the protocol's control lines on stdout, on a line of its own."""
        self.start_line()
        self._stdout.write(line + "\n")
        self._stdout.flush()

    def error(self, message):
        """Prints the runner's own error message on stderr, on a line of its own."""
        self.start_line()
        self.err.write(f"runner: {message}\n")
        self.err.flush()


def _import_entrypoint(entrypoint):
    path = os.path.abspath(entrypoint)
    if not os.path.isfile(path):
        raise RunnerError(f"entrypoint {entrypoint} not found in {os.getcwd()}")
    # Python put the runner's own directory first on sys.path; the algorithm's come instead.
    runner_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == runner_dir:
        del sys.path[0]
    for directory in (os.getcwd(), os.path.dirname(path)):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = ENTRYPOINT_MODULE
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RunnerError(f"entrypoint {entrypoint} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _positional(fn):
    """Returns (required, accepted) positional parameter counts; accepted is None for *args."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1, 1
    required = accepted = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return required, None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            accepted += 1
            if p.default is p.empty:
                required += 1
    return required, accepted


def _bind(apply, state):
    """Returns the function to call per request: apply(input) or apply(input, state)."""
    required, accepted = _positional(apply)
    takes_state = accepted is None or accepted >= 2
    if required >= 2 or (state is not None and takes_state):
        return lambda value: apply(value, state)
    return apply


def _decode(line):
    try:
        request = json.loads(line)
    except ValueError as e:
        raise RequestError(f"bad request line: not JSON: {e}") from None
    if not isinstance(request, dict) or "data" not in request:
        raise RequestError('bad request line: not an object with a "data" field')
    content_type, data = request.get("content_type"), request["data"]
    if content_type == "json":
        return data
    if content_type not in ("text", "binary"):
        raise RequestError(f"bad request line: unknown content_type {content_type!r}")
    if not isinstance(data, str):
        raise RequestError(f"bad request line: {content_type} data is not a JSON string")
    if content_type == "text":
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RequestError(f"bad request line: binary data is not standard base64: {e}") from None


def _line(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("ascii")


def _error(message, error_type, stacktrace):
    body = {"message": message, "error_type": error_type}
    if stacktrace:
        body["stacktrace"] = stacktrace
    return _line({"error": body})


def _exception_message(e):
    try:
        message = str(e)
    except Exception:  # a broken __str__ must not break the worker
        message = ""
    return message or type(e).__name__


def _exception_type(e):
    error_type = getattr(e, "error_type", None)
    return error_type if isinstance(error_type, str) and error_type else ALGORITHM_ERROR


def _encode(result):
    if isinstance(result, str):
        return _line({"result": result, "metadata": {"content_type": "text"}})
    if isinstance(result, (bytes, bytearray, memoryview)):
        data = base64.b64encode(bytes(result)).decode("ascii")
        return _line({"result": data, "metadata": {"content_type": "binary"}})
    try:
        encoded = json.dumps(result, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        return _error(
            f"apply returned a value that is not JSON-serializable ({e}); "
            "return a str, bytes, or a value made of dict, list, str, int, float, bool and None",
            ALGORITHM_ERROR,
            "",
        )
    return ('{"result":' + encoded + ',"metadata":{"content_type":"json"}}\n').encode("ascii")


def _handle(call, line):
    """Returns the response line, as bytes, for one request line."""
    try:
        value = _decode(line)
    except RequestError as e:
        return _error(str(e), PROTOCOL_ERROR, "")
    try:
        result = call(value)
    except Exception as e:
        return _error(_exception_message(e), _exception_type(e), traceback.format_exc())
    return _encode(result)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python -u runner.py <entrypoint.py>\n")
        return 2
    requests = sys.stdin.buffer
    sys.stdin = open(os.devnull)  # request lines are the runner's, not the algorithm's
    log = _Log()
    try:
        module = _import_entrypoint(argv[1])
        apply = getattr(module, "apply", None)
        if not callable(apply):
            raise RunnerError(f"{argv[1]} defines no apply(input) function")
        load = getattr(module, "load", None)
        state = load() if callable(load) else None
        call = _bind(apply, state)
    except RunnerError as e:
        log.error(e)
        return 1
    except Exception:
        log.start_line()
        traceback.print_exc()
        return 1

    path = os.environ.get(PIPE_ENV) or DEFAULT_PIPE_PATH
    try:
        responses = open(path, "wb")
    except OSError as e:
        log.error(f"cannot open the response pipe {path}: {e}")
        return 1
    log.control(INIT_LINE)
    with responses:
        while True:
            line = requests.readline()
            if not line:
                return 0
            if not line.strip():
                continue
            response = _handle(call, line)
            log.control(MARKER_LINE)
            responses.write(response)
            responses.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
