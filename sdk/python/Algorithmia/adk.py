"""Algorithmia's Algorithm Development Kit: an algorithm written as

    from Algorithmia import ADK

    def load():
        return {"model": ...}

    def apply(input, state):
        return ...

    algorithm = ADK(apply, load)
    algorithm.init("Algorithmia")

runs unchanged under algos: in a worker, init() hands apply and load to the algos runner
(runner.py), which loads once and serves calls with the worker protocol. Run locally
(`python src/Algorithm.py`), init(payload) loads, applies the function to payload once and prints
the response as Algorithmia's ADK does; init() without a payload answers request lines read from
stdin ({"content_type": "json", "data": ...}) with response lines on stdout.
"""

import base64
import binascii
import inspect
import json
import sys
import traceback

HOOK_MODULE = "_algos_runner"


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


class ADK(object):
    def __init__(self, apply_func, load_func=None):
        """apply_func(input) or apply_func(input, state) is called per request; load_func(), when
        given, once before the first, and what it returns is the state."""
        if not callable(apply_func):
            raise TypeError("ADK: apply_func must be a function")
        required, accepted = _positional(apply_func)
        if required > 2 or accepted == 0:
            raise ValueError("apply function may have between 1 and 2 parameters, not %d" % (required or accepted))
        if load_func is not None:
            if not callable(load_func):
                raise TypeError("ADK: load_func must be a function")
            if _positional(load_func)[0] > 0:
                raise ValueError("load function must not have parameters")
        self.apply_func = apply_func
        self.load_func = load_func
        self.load_result = None
        self.loaded = False

    @property
    def is_local(self):
        """False inside an algos worker (the runner serves the algorithm)."""
        return _hook() is None

    def init(self, local_payload=None, pprint=print):
        """In an algos worker, hands apply and load to the runner and returns at once: the runner
        serves once the entrypoint module has been imported. Elsewhere, loads and then applies to
        local_payload (printing the response with pprint), or serves request lines from stdin
        when there is no payload."""
        hook = _hook()
        if hook is not None:
            hook.register(self.apply_func, self.load_func)
            return
        try:
            self.load()
        except Exception as e:
            pprint(self.create_exception(e, loading_exception=True))
            return
        if local_payload is not None:
            pprint(self.process(local_payload))
            return
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                payload = self.format_data(request)
            except Exception as e:
                pprint(self.create_exception(e))
                continue
            pprint(self.process(payload))

    def load(self):
        if self.load_func is not None and not self.loaded:
            self.load_result = self.load_func()
        self.loaded = True

    def apply(self, payload):
        """Calls apply_func on payload, with the load state when it takes one."""
        required, accepted = _positional(self.apply_func)
        takes_state = accepted is None or accepted >= 2
        if required >= 2 or (self.load_result is not None and takes_state):
            return self.apply_func(payload, self.load_result)
        return self.apply_func(payload)

    def process(self, payload):
        """Returns the response line (JSON text) for one input."""
        try:
            return self.format_response(self.apply(payload))
        except Exception as e:
            return self.create_exception(e)

    @staticmethod
    def format_data(request):
        """The input of a request line: JSON and text as they are, binary decoded from base64."""
        if not isinstance(request, dict) or "data" not in request:
            raise ValueError('a request is an object with "content_type" and "data"')
        content_type, data = request.get("content_type"), request["data"]
        if content_type in ("text", "json"):
            return data
        if content_type == "binary":
            try:
                return base64.b64decode(data, validate=True)
            except (binascii.Error, TypeError, ValueError) as e:
                raise ValueError("binary data is not base64: %s" % (e,)) from None
        raise ValueError("Invalid content_type: %r" % (content_type,))

    @staticmethod
    def format_response(result):
        if isinstance(result, (bytes, bytearray, memoryview)):
            result, content_type = base64.b64encode(bytes(result)).decode("ascii"), "binary"
        elif isinstance(result, str):
            content_type = "text"
        else:
            content_type = "json"
        return json.dumps({"result": result, "metadata": {"content_type": content_type}})

    @staticmethod
    def create_exception(exception, loading_exception=False):
        error_type = getattr(exception, "error_type", None)
        if not isinstance(error_type, str) or not error_type:
            error_type = "LoadingError" if loading_exception else "AlgorithmError"
        return json.dumps({"error": {"message": str(exception), "stacktrace": traceback.format_exc(), "error_type": error_type}})


class Handler(ADK):
    """Algorithmia's older interface: Algorithmia.handler(apply, load).serve()."""

    def serve(self):
        return self.init()


def _hook():
    hook = sys.modules.get(HOOK_MODULE)
    if hook is None or not callable(getattr(hook, "register", None)):
        return None
    return hook
