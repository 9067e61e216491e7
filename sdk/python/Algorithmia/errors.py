"""Exceptions of the Algorithmia client, named and shaped as in Algorithmia's Python client."""


class ApiError(Exception):
    """An error from the API. message is what the server said; status_code is the HTTP status, or
    None when no reply came (the server could not be reached)."""

    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __str__(self):
        return str(self.message)


class ApiInternalError(ApiError):
    """A server error (a 5xx status) that is not an algorithm's error."""


class DataApiError(ApiError):
    """An error from the Data API or a data connector."""


class AlgorithmException(ApiError):
    """A call of an algorithm failed: the algorithm raised an error, timed out, was not found, or
    the key may not call it. error_type is Algorithmia's type (AlgorithmError,
    AlgorithmTimeoutError, NotFoundError, ...); stacktrace is the algorithm's, when it sent one.

    An algorithm that lets this exception escape from apply fails its own call with the same
    error_type, as Algorithmia's runners do."""

    def __init__(self, message, stack_trace=None, error_type=None, status_code=None):
        super().__init__(message, status_code)
        self.stack_trace = stack_trace
        self.error_type = error_type

    @property
    def stacktrace(self):
        return self.stack_trace


def _error_fields(body):
    """Returns (message, error_type, stacktrace) of Algorithmia's error envelope
    {"error": {"message", "error_type", "stacktrace"}}, or None when body is not one."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    error = body["error"]
    if not isinstance(error, dict):
        return str(error), None, None
    message = error.get("message")
    stacktrace = error.get("stacktrace", error.get("stack_trace"))
    return (
        message if isinstance(message, str) else str(error),
        error.get("error_type") if isinstance(error.get("error_type"), str) else None,
        stacktrace if isinstance(stacktrace, str) and stacktrace else None,
    )


def raiseAlgoApiError(result):
    """Returns the AlgorithmException for an error envelope (Algorithmia's helper, which returns
    rather than raises despite its name)."""
    fields = _error_fields(result)
    if fields is None:
        return Exception("Non-Algorithm related Failure: " + str(result))
    message, error_type, stacktrace = fields
    return AlgorithmException(message, stack_trace=stacktrace, error_type=error_type)


def raiseDataApiError(result):
    """Returns the DataApiError for an error envelope (Algorithmia's helper)."""
    fields = _error_fields(result)
    return DataApiError(fields[0] if fields else str(result))
