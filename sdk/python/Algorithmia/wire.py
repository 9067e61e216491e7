"""How inputs and query options go on the wire."""

import json

# Without a timeout option a call may run as long as the server allows (3000 s), plus the reply.
DEFAULT_CALL_TIMEOUT = 3000 + 60


def query_values(params):
    """Query values as the API reads them: booleans as true/false, None left out."""
    out = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out


def encode_input(input_object):
    """Returns (body, Content-Type) of an algorithm's input, as Algorithmia's client encodes it:
    str as text, bytes as binary, anything else (None included) as JSON."""
    if isinstance(input_object, str):
        return input_object.encode("utf-8"), "text/plain"
    if isinstance(input_object, (bytes, bytearray, memoryview)):
        return bytes(input_object), "application/octet-stream"
    return json.dumps(input_object, allow_nan=False).encode("utf-8"), "application/json"
