"""The reply of a call: AlgoResponse(result, metadata), as in Algorithmia's client."""

import base64
import binascii

from Algorithmia.async_response import AsyncResponse
from Algorithmia.errors import ApiError, raiseAlgoApiError


class AlgoResponse(object):
    def __init__(self, result, metadata):
        self.result = result
        self.metadata = metadata

    def __repr__(self):
        return "AlgoResponse(result=%s,metadata=%s)" % (self.result, self.metadata)

    @staticmethod
    def create_algo_response(response):
        """Builds the AlgoResponse (or AsyncResponse) of a decoded reply; raises
        AlgorithmException for an error envelope."""
        if not isinstance(response, dict):
            raise ApiError("the API answered a call with %r, not a JSON object" % (response,))
        if "request_id" in response and ("async" in response or "async_protocol" in response):
            return AsyncResponse(response)
        if "error" in response:
            raise raiseAlgoApiError(response)
        if not isinstance(response.get("metadata"), dict):
            raise ApiError("the API answered a call without metadata: %r" % (response,))
        metadata = Metadata(response["metadata"])
        result = response.get("result")
        if metadata.content_type == "binary":
            try:
                result = base64.b64decode(result or "", validate=True)
            except (binascii.Error, TypeError, ValueError) as e:
                raise ApiError("the API answered a binary result that is not base64: %s" % (e,)) from None
        elif metadata.content_type == "void":
            result = None
        return AlgoResponse(result, metadata)


class Metadata(object):
    """content_type ("json", "text", "binary"), duration in seconds, stdout (the call's log, with
    set_options(stdout=True), for the algorithm's owner) and full_metadata (all of it)."""

    def __init__(self, metadata):
        self.content_type = metadata.get("content_type")
        self.duration = metadata.get("duration")
        self.stdout = metadata.get("stdout")
        self.full_metadata = metadata

    def __getitem__(self, key):
        return self.__dict__[key]

    def __repr__(self):
        return "Metadata(content_type='%s',duration=%s,stdout=%s)" % (self.content_type, self.duration, self.stdout)
