"""Calling an algorithm: client.algo("owner/name/1.*").pipe(input)."""

import json
import re
from enum import Enum
from urllib.parse import quote

from Algorithmia.algo_response import AlgoResponse
from Algorithmia.async_response import AsyncResponse
from Algorithmia.errors import AlgorithmException, ApiError, ApiInternalError, _error_fields
from Algorithmia.wire import DEFAULT_CALL_TIMEOUT, encode_input, query_values

OutputType = Enum("OutputType", "default raw void")

_REF = re.compile(r"(?:algo://|/|)(\w[\w.\-]*/.+)")


def _output_type(output):
    if isinstance(output, OutputType):
        return output
    try:
        return OutputType[str(output or "default")]
    except KeyError:
        raise ValueError("output must be OutputType.default, raw or void, not %r" % (output,)) from None


class Algorithm(object):
    """An algorithm to call: "owner/name", "owner/name/1.2.3", "owner/name/1.*", "algo://owner/name"."""

    def __init__(self, client, algoRef):
        m = _REF.fullmatch(algoRef) if isinstance(algoRef, str) else None
        if m is None:
            raise ValueError("Invalid algorithm URI: %r (use owner/name[/version])" % (algoRef,))
        self.client = client
        self.path = m.group(1).rstrip("/")
        parts = self.path.split("/")
        self.username, self.algoname = parts[0], parts[1]
        self.version = parts[2] if len(parts) > 2 else None
        self.url = "/v1/algo/" + quote(self.path, safe="/*+@:")
        self.query_parameters = {}
        self.output_type = OutputType.default

    def set_options(self, timeout=300, stdout=False, output=OutputType.default, **query_parameters):
        """timeout in seconds; stdout=True puts the call's log in metadata.stdout (for the
        algorithm's owner); output=OutputType.raw returns the result alone (str, or bytes for a
        binary result), OutputType.void returns an AsyncResponse at once. Returns self."""
        self.query_parameters = {"timeout": timeout, "stdout": stdout}
        self.query_parameters.update(query_parameters)
        self.output_type = _output_type(output)
        return self

    def pipe(self, input1):
        """Calls the algorithm on input1 (str → text, bytes → binary, anything else → JSON) and
        returns an AlgoResponse; raises AlgorithmException when the call fails."""
        body, content_type = encode_input(input1)
        query = query_values(self.query_parameters)
        if self.output_type is not OutputType.default:
            query["output"] = self.output_type.name
        timeout = DEFAULT_CALL_TIMEOUT
        try:
            timeout = float(query.get("timeout")) + 60
        except (TypeError, ValueError):
            pass
        resp = self.client.request("POST", self.url, query=query, body=body, headers={"Content-Type": content_type}, timeout=timeout)
        with resp:
            if self.output_type is OutputType.raw:
                return self._raw(resp)
            if resp.status >= 400:
                raise self._failure(resp)
            reply = resp.json()
        if self.output_type is OutputType.void:
            if not isinstance(reply, dict) or "request_id" not in reply:
                raise ApiError("the API answered an asynchronous call with %r" % (reply,), resp.status)
            return AsyncResponse(reply)
        return AlgoResponse.create_algo_response(reply)

    def _failure(self, resp):
        """The exception for a failed call: AlgorithmException for Algorithmia's error envelope
        (whatever the status), else ApiError (ApiInternalError for a 5xx status)."""
        body = resp.read()
        try:
            fields = _error_fields(json.loads(body.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            fields = None
        if fields is None:
            text = body.decode("utf-8", "replace").strip()[:2000] or "HTTP %d %s" % (resp.status, resp.reason)
            cls = ApiInternalError if resp.status >= 500 else ApiError
            return cls("calling %s: %s" % (self.path, text), resp.status)
        message, error_type, stacktrace = fields
        return AlgorithmException(message, stack_trace=stacktrace, error_type=error_type, status_code=resp.status)

    def _raw(self, resp):
        if resp.status >= 400:
            raise self._failure(resp)
        body = resp.read()
        content_type = (resp.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.startswith("text/"):
            return body.decode("utf-8")
        return body
