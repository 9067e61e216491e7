"""algos Python runner: the worker side of the agent <-> worker protocol (docs/worker-protocol.md).

Usage: python -u runner.py <entrypoint.py>, with the algorithm's source directory as the working
directory. The entrypoint module defines apply(input) and optionally load(); load()'s return value,
when it returns one and apply takes two parameters, is passed as apply(input, state). A module
written for Algorithmia's ADK (`ADK(apply, load).init(...)` at import) hands its functions to the
runner instead, through the hook module the runner registers as sys.modules["_algos_runner"].

A request line may carry {"algos": {"token": …, "request_id": …}}: the runner puts them in the
environment as ALGOS_CALL_TOKEN and ALGOS_REQUEST_ID for the duration of the call, where the
Algorithmia client (the package next to this file) and child processes find them.

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
import types

INIT_LINE = "PIPE_INIT_COMPLETE"
MARKER_LINE = "--ALGOS-CALL-END--"
PIPE_ENV = "ALGOS_PIPE_OUT"
DEFAULT_PIPE_PATH = "/tmp/algoout"
ALGORITHM_ERROR = "AlgorithmError"
PROTOCOL_ERROR = "ProtocolError"
ENTRYPOINT_MODULE = "__algos_entrypoint__"
HOOK_MODULE = "_algos_runner"
CALL_FIELD = "algos"
CALL_ENV = (("token", "ALGOS_CALL_TOKEN"), ("request_id", "ALGOS_REQUEST_ID"))


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
    # Python put the runner's own directory first on sys.path: the algorithm's directories come
    # before it, and it stays before site-packages so that the Algorithmia package beside the
    # runner is the one algorithms import.
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


def _call_env(request):
    """Returns the environment of one call: ALGOS_CALL_TOKEN and ALGOS_REQUEST_ID from the request's
    "algos" field. The field is optional; what is not a string there is ignored."""
    field = request.get(CALL_FIELD)
    env = {}
    if isinstance(field, dict):
        for key, name in CALL_ENV:
            value = field.get(key)
            if isinstance(value, str) and value and "\x00" not in value:
                env[name] = value
    return env


def _decode(line):
    """Returns the input of a request line and the environment of its call."""
    try:
        request = json.loads(line)
    except ValueError as e:
        raise RequestError(f"bad request line: not JSON: {e}") from None
    if not isinstance(request, dict) or "data" not in request:
        raise RequestError('bad request line: not an object with a "data" field')
    return _decode_data(request), _call_env(request)


def _decode_data(request):
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


def _set_call_env(env):
    """Sets the call's variables in os.environ (so child processes inherit them too) and unsets
    those the call does not carry."""
    for _, name in CALL_ENV:
        if name in env:
            os.environ[name] = env[name]
        else:
            os.environ.pop(name, None)


def _handle(call, line):
    """Returns the response line, as bytes, for one request line."""
    try:
        value, env = _decode(line)
    except RequestError as e:
        return _error(str(e), PROTOCOL_ERROR, "")
    _set_call_env(env)
    try:
        result = call(value)
    except Exception as e:
        return _error(_exception_message(e), _exception_type(e), traceback.format_exc())
    finally:
        _set_call_env({})
    return _encode(result)


class _Hook:
    """The hook Algorithmia's ADK finds as sys.modules[HOOK_MODULE] while the runner imports the
    entrypoint: ADK(apply, load).init() hands its functions to the runner through register()
    instead of serving the protocol itself."""

    def __init__(self):
        self.functions = None
        self.importing = True
        self.module = types.ModuleType(HOOK_MODULE, "The algos runner's hook for Algorithmia's ADK.")
        self.module.register = self.register

    def register(self, apply, load=None):
        """Records the functions to serve; the runner serves them once the import is done."""
        if not callable(apply) or (load is not None and not callable(load)):
            raise TypeError("ADK: apply (and load, when given) must be functions")
        if not self.importing:
            raise RuntimeError("ADK.init() must run when the entrypoint module is imported, not during a call")
        if self.functions is not None:
            raise RuntimeError("ADK.init() was called twice: an algorithm serves one apply function")
        self.functions = (apply, load)
        return True


def _functions(entrypoint):
    """Imports the entrypoint and returns (apply, load): those an ADK handed over with init(),
    else the module's own apply and load."""
    hook = _Hook()
    sys.modules[HOOK_MODULE] = hook.module
    try:
        module = _import_entrypoint(entrypoint)
    finally:
        hook.importing = False
    if hook.functions is not None:
        return hook.functions
    apply = getattr(module, "apply", None)
    if not callable(apply):
        raise RunnerError(f"{entrypoint} defines no apply(input) function")
    load = getattr(module, "load", None)
    return apply, (load if callable(load) else None)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python -u runner.py <entrypoint.py>\n")
        return 2
    requests = sys.stdin.buffer
    sys.stdin = open(os.devnull)  # request lines are the runner's, not the algorithm's
    log = _Log()
    try:
        apply, load = _functions(argv[1])
        state = load() if load is not None else None
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
