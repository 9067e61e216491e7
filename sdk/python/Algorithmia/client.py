"""The API client: Algorithmia.client(api_key, api_address).

Which key and address a request uses is decided when the request is made, not when the client is
created, because algorithms create their client once at import, before any call:

1. Inside an algos worker, during a call, the runner puts the call's token in ALGOS_CALL_TOKEN
   and the node agent's address in ALGORITHMIA_API. A client created without a key sends
   "Authorization: Simple <token>" to that address, so the call it makes acts for the caller of
   the algorithm (and is attributed to it through X-Algos-Parent-Request: ALGOS_REQUEST_ID).
   The token is never sent to another address: a client given an api_address of its own
   does not use it.
2. Otherwise the key is the api_key argument, else Algorithmia.apiKey, else ALGORITHMIA_API_KEY;
   the address is the api_address argument, else Algorithmia.apiAddress, else ALGORITHMIA_API,
   else http://127.0.0.1:8080 (what `make dev` serves).

Standard library only: requests go through http.client, one connection each, and bodies of files
stream in chunks both ways.
"""

import http.client
import json
import os
import socket
import urllib.parse

from Algorithmia.algorithm import Algorithm
from Algorithmia.datadirectory import DataDirectory
from Algorithmia.datafile import DataFile
from Algorithmia.errors import ApiError, ApiInternalError, _error_fields
from Algorithmia.wire import encode_input, query_values

DEFAULT_API_ADDRESS = "http://127.0.0.1:8080"
TOKEN_ENV = "ALGOS_CALL_TOKEN"
REQUEST_ID_ENV = "ALGOS_REQUEST_ID"
KEY_ENV = "ALGORITHMIA_API_KEY"
ADDRESS_ENV = "ALGORITHMIA_API"
SOCKET_ENV = "ALGOS_API_SOCKET"  # the agent's Unix socket: a sandboxed worker has no network
PARENT_HEADER = "X-Algos-Parent-Request"
USER_AGENT = "algos-python-client/1 (Algorithmia-compatible)"

CHUNK_SIZE = 64 * 1024
DATA_TIMEOUT = 300
MAX_ERROR_BODY = 1 << 20


def _authorization(key):
    if not key:
        return None
    if key.startswith("Simple ") or key.startswith("Bearer "):
        return key
    return "Simple " + key


def _same_address(a, b):
    return a.rstrip("/") == b.rstrip("/")


class Response(object):
    """A reply whose body has not been read yet: read it with read(), chunks() or json(); close it
    (or use it in a with statement) when done."""

    def __init__(self, conn, resp):
        self._conn = conn
        self._resp = resp
        self.status = resp.status
        self.reason = resp.reason
        self.headers = resp.headers

    def header(self, name, default=None):
        return self._resp.getheader(name, default)

    def read(self, limit=None):
        return self._resp.read() if limit is None else self._resp.read(limit)

    def chunks(self, size=CHUNK_SIZE):
        """Yields the body in chunks of at most size bytes."""
        while True:
            chunk = self._resp.read(size)
            if not chunk:
                return
            yield chunk

    def json(self):
        try:
            return json.loads(self.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError("the API answered HTTP %d with a body that is not JSON: %s" % (self.status, e), self.status) from None

    def error(self, cls, context):
        """Returns an exception of class cls for this (failed) reply, with the server's message when
        the body is Algorithmia's error envelope. A 5xx reply without one is an ApiInternalError
        when cls is ApiError."""
        body = self.read(MAX_ERROR_BODY)
        fields = None
        try:
            fields = _error_fields(json.loads(body.decode("utf-8")))
        except (UnicodeDecodeError, ValueError):
            pass
        if fields is not None:
            message = fields[0]
        else:
            message = self._resp.getheader("X-Error-Message") or body.decode("utf-8", "replace").strip()
            message = message[:2000] or "HTTP %d %s" % (self.status, self.reason)
            if cls is ApiError and self.status >= 500:
                cls = ApiInternalError
        return cls("%s - %s" % (context, message) if context else message, status_code=self.status)

    def close(self):
        try:
            self._resp.close()
        finally:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client(object):
    """Algorithmia's client: algo(ref) for algorithms, file(uri) and dir(uri) for data."""

    def __init__(self, apiKey=None, apiAddress=None):
        self._api_key = apiKey
        self._api_address = apiAddress.rstrip("/") if apiAddress else None

    @property
    def apiKey(self):
        """The API key requests use outside a call's token: the one given, else the default."""
        if self._api_key is not None:
            return self._api_key
        import Algorithmia

        return Algorithmia.apiKey if Algorithmia.apiKey is not None else os.environ.get(KEY_ENV)

    @property
    def apiAddress(self):
        """The address requests go to now."""
        return self._target()[0]

    def algo(self, algoRef):
        return Algorithm(self, algoRef)

    def file(self, dataUrl):
        return DataFile(self, dataUrl)

    def dir(self, dataUrl):
        return DataDirectory(self, dataUrl)

    def _target(self):
        """Returns (address, Authorization header or None, Unix socket path or None) for a request
        made now. Inside a worker, the agent is reached through its Unix socket when it has one
        (a sandboxed worker has no network, only loopback of its own)."""
        import Algorithmia

        token = os.environ.get(TOKEN_ENV)
        agent = os.environ.get(ADDRESS_ENV)
        if self._api_key is None and token and agent:
            if self._api_address is None or _same_address(self._api_address, agent):
                return agent.rstrip("/"), "Simple " + token, os.environ.get(SOCKET_ENV) or None
        address = self._api_address or Algorithmia.apiAddress or agent or DEFAULT_API_ADDRESS
        sock = os.environ.get(SOCKET_ENV) if agent and _same_address(address, agent) else None
        return address.rstrip("/"), _authorization(self.apiKey), sock or None

    def request(self, method, path, query=None, body=None, headers=None, timeout=DATA_TIMEOUT):
        """Sends one request and returns its Response, whatever its status; raises ApiError when the
        API cannot be reached. path is the REST path, already escaped (/v1/…); body is bytes or a
        binary file object (sent in chunks; give its Content-Length in headers)."""
        address, auth, sock = self._target()
        u = urllib.parse.urlsplit(address)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ApiError("the API address %r is not an http:// or https:// URL" % (address,))
        target = u.path.rstrip("/") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Connection": "close"}
        if auth:
            all_headers["Authorization"] = auth
        parent = os.environ.get(REQUEST_ID_ENV)
        if parent:
            all_headers[PARENT_HEADER] = parent
        all_headers.update(headers or {})
        try:
            port = u.port
        except ValueError as e:
            raise ApiError("the API address %r has a bad port: %s" % (address, e)) from None
        if sock:
            conn = _UnixHTTPConnection(sock, timeout=timeout, blocksize=CHUNK_SIZE)
        elif u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, port or 443, timeout=timeout, blocksize=CHUNK_SIZE)
        else:
            conn = http.client.HTTPConnection(u.hostname, port or 80, timeout=timeout, blocksize=CHUNK_SIZE)
        try:
            conn.request(method, target, body=body, headers=all_headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise ApiError("%s %s%s: cannot reach the API: %s" % (method, address, path, e)) from e
        return Response(conn, resp)

    # Algorithmia's helper names, for code that calls them directly.

    def postJsonHelper(self, url, input_object, parse_response_as_json=True, **query_parameters):
        body, content_type = encode_input(input_object)
        resp = self.request("POST", url, query=query_values(query_parameters), body=body, headers={"Content-Type": content_type})
        if not parse_response_as_json:
            return resp
        with resp:
            return resp.json()

    def getHelper(self, url, **query_parameters):
        return self.request("GET", url, query=query_values(query_parameters))

    def headHelper(self, url):
        return self.request("HEAD", url)

    def putHelper(self, url, data):
        with self.request("PUT", url, body=data) as resp:
            return resp.json()

    def deleteHelper(self, url):
        with self.request("DELETE", url) as resp:
            return resp.json()


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the node agent's Unix socket."""

    def __init__(self, path, timeout=None, blocksize=CHUNK_SIZE):
        super().__init__("localhost", timeout=timeout, blocksize=blocksize)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s
