"""A stand-in for the algos REST API, for the client's tests: the subset the Algorithmia client
speaks (algorithm calls, the Data API, data connectors), on a real HTTP server on loopback, with
Algorithmia's error envelope and status codes. Files live on disk and stream both ways, so tests
can measure what the client holds in memory. The end-to-end tests against real algos are in the
Go test suites.
"""

import base64
import hashlib
import json
import os
import shutil
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024
ACLS = {"public": {"read": ["user://*"]}, "my_algorithms": {"read": ["algo://.my/*"]}, "private": {"read": []}}


def _acl(acl):
    return ACLS.get(acl, acl) if isinstance(acl, str) else acl


class Reply(Exception):
    """Raised by a fake algorithm to answer with this status and body, as is."""

    def __init__(self, status, body, content_type="text/plain"):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type


class Recorded(object):
    def __init__(self, method, path, query, headers):
        self.method, self.path, self.query, self.headers = method, path, query, headers


class FakeAPI(object):
    """A loopback server. keys are the credentials it accepts after "Simple "; algorithms maps
    "owner/name" to a function of the decoded input; page_size bounds listing pages."""

    def __init__(self, root, keys=("test-key",), page_size=2):
        self.root = root
        self.keys = set(keys)
        self.page_size = page_size
        self.algorithms = {}
        self.acls = {}
        self.uploads = []  # (path, Content-Length header, bytes received, sha256)
        self.requests = []
        self._lock = threading.Lock()
        api = self

        class Handler(_Handler):
            fake = api

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def record(self, r):
        with self._lock:
            self.requests.append(r)

    def last(self, prefix=""):
        with self._lock:
            for r in reversed(self.requests):
                if r.path.startswith(prefix):
                    return r
        return None

    def collection(self, owner, name, acl="my_algorithms"):
        """Creates a collection directly, as a fixture."""
        os.makedirs(os.path.join(self.root, "data", owner, name), exist_ok=True)
        self.acls[(owner, name)] = ACLS[acl]


class _Handler(BaseHTTPRequestHandler):
    fake = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # Replies.

    def send(self, status, body=b"", content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send(status, json.dumps(obj).encode(), headers=headers)

    def fail(self, status, error_type, message, stacktrace=None):
        error = {"message": message, "error_type": error_type}
        if stacktrace:
            error["stacktrace"] = stacktrace
        self.send_json(status, {"error": error}, headers={"X-Error-Message": message})

    def body_chunks(self):
        """Yields the request body in chunks: Content-Length or chunked transfer encoding."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return
                left = size
                while left:
                    chunk = self.rfile.read(min(CHUNK, left))
                    left -= len(chunk)
                    yield chunk
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        while left > 0:
            chunk = self.rfile.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk

    def body(self):
        return b"".join(self.body_chunks())

    # Dispatch.

    def handle_any(self):
        u = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        self.fake.record(Recorded(self.command, u.path, query, dict(self.headers.items())))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Simple ") or auth[len("Simple "):] not in self.fake.keys:
            self.body()
            return self.fail(401, "AuthorizationError", "no valid API key")
        segments = [unquote(s) for s in u.path.split("/")[1:]]
        try:
            if segments[:2] == ["v1", "algo"] and len(segments) >= 4:
                return self.call("/".join(segments[2:4]), query)
            if segments[:2] == ["v1", "data"] and len(segments) >= 3 and segments[2]:
                return self.data(["data"] + [s for s in segments[2:] if s], query)
            if segments[:2] == ["v1", "connector"] and len(segments) >= 4:
                return self.data(["connector"] + [s for s in segments[2:] if s], query)
        except Exception:
            return self.fail(500, "InternalError", "fake API: " + traceback.format_exc())
        self.body()
        self.fail(404, "NotFoundError", "no route for %s" % u.path)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    # Algorithms.

    def call(self, name, query):
        raw = self.body()
        content_type = self.headers.get("Content-Type", "")
        if content_type == "application/json":
            value = json.loads(raw)
        elif content_type.startswith("text/plain"):
            value = raw.decode("utf-8")
        elif content_type == "application/octet-stream":
            value = raw
        else:
            return self.fail(400, "InputError", "unknown Content-Type %r" % content_type)
        fn = self.fake.algorithms.get(name)
        if fn is None:
            return self.fail(404, "NotFoundError", "algorithm %s not found" % name)
        if query.get("output") == "void":
            return self.send_json(200, {"async": "void", "request_id": "req-fake-1"})
        try:
            result = fn(value)
        except Reply as r:
            return self.send(r.status, r.body, r.content_type)
        except Exception as e:
            return self.fail(400, getattr(e, "error_type", "AlgorithmError"), str(e), traceback.format_exc())
        if isinstance(result, bytes):
            kind, wire = "binary", base64.b64encode(result).decode()
        elif isinstance(result, str):
            kind, wire = "text", result
        else:
            kind, wire = "json", result
        if query.get("output") == "raw":
            if kind == "binary":
                return self.send(200, result, "application/octet-stream")
            if kind == "text":
                return self.send(200, result.encode(), "text/plain; charset=utf-8")
            return self.send(200, json.dumps(result).encode())
        metadata = {"content_type": kind, "duration": 0.001}
        if query.get("stdout") == "true":
            metadata["stdout"] = "log of %s\n" % name
        self.send_json(200, {"result": wire, "metadata": metadata})

    # Data.

    def data(self, parts, query):
        if any(p in (".", "..") for p in parts):
            self.body()
            return self.fail(400, "InputError", "bad path")
        path = os.path.join(self.fake.root, *parts)
        uri = ("data://" + "/".join(parts[1:])) if parts[0] == "data" else parts[1] + "://" + "/".join(parts[2:])
        method = self.command
        if method in ("GET", "HEAD"):
            self.body()
            if os.path.isfile(path):
                size = os.path.getsize(path)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.send_header("X-Data-Type", "file")
                self.end_headers()
                if method == "GET":
                    with open(path, "rb") as f:
                        shutil.copyfileobj(f, self.wfile, CHUNK)
                return
            if not os.path.isdir(path):
                return self.fail(404, "NotFoundError", "%s not found" % uri)
            if method == "HEAD":
                return self.send(200, headers={"X-Data-Type": "directory"})
            return self.listing(parts, path, query)
        if method == "PUT":
            return self.put(parts, path, uri)
        if method == "POST":
            return self.mkdir(parts, path, uri)
        if method == "PATCH":
            acl = json.loads(self.body()).get("acl")
            self.fake.acls[tuple(parts[1:3])] = _acl(acl)
            return self.send_json(200, {"owner": parts[1], "name": parts[2], "acl": self.fake.acls[tuple(parts[1:3])]})
        if method == "DELETE":
            self.body()
            return self.delete(path, query)
        self.fail(405, "MethodNotAllowedError", method)

    def listing(self, parts, path, query):
        names = sorted(os.listdir(path))
        entries = [("d", n) for n in names if os.path.isdir(os.path.join(path, n))]
        entries += [("f", n) for n in names if os.path.isfile(os.path.join(path, n))]
        start = int(query.get("marker") or 0)
        page = entries[start:start + self.fake.page_size]
        out = {"folders": [], "files": []}
        for kind, n in page:
            if kind == "d":
                out["folders"].append({"name": n})
            else:
                size = os.path.getsize(os.path.join(path, n))
                out["files"].append({"filename": n, "size": size, "last_modified": "2016-01-06T00:52:34.000Z"})
        if start + self.fake.page_size < len(entries):
            out["marker"] = str(start + self.fake.page_size)
        if query.get("acl") == "true" and parts[0] == "data" and len(parts) >= 3:
            out["acl"] = self.fake.acls.get(tuple(parts[1:3]), ACLS["my_algorithms"])
        self.send_json(200, out, headers={"X-Data-Type": "directory"})

    def put(self, parts, path, uri):
        if parts[0] == "data" and (len(parts) < 4 or not os.path.isdir(os.path.join(self.fake.root, *parts[:3]))):
            self.body()
            return self.fail(404, "NotFoundError", "no collection for %s" % uri)
        if os.path.isdir(path):
            self.body()
            return self.fail(409, "ConflictError", "%s is a folder" % uri)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        digest, n = hashlib.sha256(), 0
        tmp = path + ".uploading"
        with open(tmp, "wb") as f:
            for chunk in self.body_chunks():
                digest.update(chunk)
                n += len(chunk)
                f.write(chunk)
        os.replace(tmp, path)
        self.fake.uploads.append((uri, self.headers.get("Content-Length"), n, digest.hexdigest()))
        self.send_json(200, {"result": uri})

    def mkdir(self, parts, path, uri):
        body = json.loads(self.body() or b"{}")
        name = body.get("name")
        if not name or "/" in name:
            return self.fail(400, "InputError", "name is required")
        child = os.path.join(path, name)
        if parts[0] == "data" and len(parts) == 2:
            if os.path.isdir(child):
                return self.fail(409, "ConflictError", "collection %s exists" % name)
            acl = body.get("acl", "my_algorithms")
            os.makedirs(child)
            self.fake.acls[(parts[1], name)] = _acl(acl)
            return self.send_json(200, {"owner": parts[1], "name": name, "acl": self.fake.acls[(parts[1], name)]})
        if "acl" in body:
            return self.fail(400, "InputError", "folders share their collection's ACL")
        if not os.path.isdir(path):
            return self.fail(404, "NotFoundError", "%s not found" % uri)
        if os.path.exists(child):
            return self.fail(409, "ConflictError", "%s/%s exists" % (uri, name))
        os.makedirs(child)
        self.send_json(200, {"result": uri + "/" + name})

    def delete(self, path, query):
        if os.path.isfile(path):
            os.unlink(path)
            return self.send_json(200, {"result": {"deleted": 1}})
        if not os.path.isdir(path):
            return self.send_json(200, {"result": {"deleted": 0}})
        files = sum(len(fs) for _, _, fs in os.walk(path))
        if (files or os.listdir(path)) and query.get("force") != "true":
            return self.fail(409, "ConflictError", "the folder is not empty: delete with force=true")
        shutil.rmtree(path)
        self.send_json(200, {"result": {"deleted": files}})
