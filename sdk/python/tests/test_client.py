"""The Algorithmia client against a stand-in of the algos REST API (fakeapi.py)."""

import base64
import hashlib
import json
import os
import tempfile
import tracemalloc
import unittest
from unittest import mock

import Algorithmia
from Algorithmia.acl import AclType, ReadAcl
from Algorithmia.algorithm import OutputType
from Algorithmia.async_response import AsyncResponse
from Algorithmia.errors import AlgorithmException, ApiError, ApiInternalError, DataApiError

from fakeapi import FakeAPI, Reply

KEY = "test-key"
ENV = ("ALGOS_CALL_TOKEN", "ALGOS_REQUEST_ID", "ALGORITHMIA_API", "ALGORITHMIA_API_KEY", "ALGOS_API_SOCKET")


class InputError(Exception):
    error_type = "InputError"


def echo(value):
    return value


def fail(value):
    raise InputError("the input is wrong: %r" % (value,))


class APITest(unittest.TestCase):
    """Starts a fake API per test and clears the environment the client reads."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.api = FakeAPI(os.path.join(self.tmp.name, "store"), keys=(KEY,))
        self.api.__enter__()
        self.addCleanup(self.api.__exit__)
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        for name in ENV:
            os.environ.pop(name, None)
        self.api.algorithms.update({"demo/echo": echo, "demo/fail": fail})
        self.client = Algorithmia.client(KEY, self.api.url)

    def local_file(self, size):
        path = os.path.join(self.tmp.name, "local-%d.bin" % size)
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, not all one byte
        digest = hashlib.sha256()
        with open(path, "wb") as f:
            left = size
            while left:
                b = block[: min(len(block), left)]
                f.write(b)
                digest.update(b)
                left -= len(b)
        return path, digest.hexdigest()


class TestCredentials(APITest):
    def test_token_is_read_at_request_time(self):
        # Created at import time, before any call: no token, no key, no agent address yet.
        client = Algorithmia.client()
        self.api.keys.update({"call-token-1", "call-token-2"})
        os.environ.update({"ALGORITHMIA_API": self.api.url, "ALGOS_CALL_TOKEN": "call-token-1", "ALGOS_REQUEST_ID": "req-parent-1"})
        self.assertEqual(client.algo("demo/echo").pipe("hi").result, "hi")
        r = self.api.last("/v1/algo")
        self.assertEqual(r.headers["Authorization"], "Simple call-token-1")
        self.assertEqual(r.headers["X-Algos-Parent-Request"], "req-parent-1")

        os.environ.update({"ALGOS_CALL_TOKEN": "call-token-2", "ALGOS_REQUEST_ID": "req-parent-2"})
        client.file("data://demo/c/x.txt").exists()
        r = self.api.last("/v1/data")
        self.assertEqual(r.headers["Authorization"], "Simple call-token-2")
        self.assertEqual(r.headers["X-Algos-Parent-Request"], "req-parent-2")

        # Between calls the runner unsets the token: the key from the environment is used.
        del os.environ["ALGOS_CALL_TOKEN"], os.environ["ALGOS_REQUEST_ID"]
        os.environ["ALGORITHMIA_API_KEY"] = KEY
        client.algo("demo/echo").pipe(1)
        r = self.api.last("/v1/algo")
        self.assertEqual(r.headers["Authorization"], "Simple " + KEY)
        self.assertNotIn("X-Algos-Parent-Request", r.headers)

    def test_explicit_key_wins_over_token(self):
        os.environ.update({"ALGORITHMIA_API": self.api.url, "ALGOS_CALL_TOKEN": "call-token"})
        Algorithmia.client(KEY).algo("demo/echo").pipe(1)
        self.assertEqual(self.api.last("/v1/algo").headers["Authorization"], "Simple " + KEY)

    def test_token_never_sent_to_another_address(self):
        with FakeAPI(os.path.join(self.tmp.name, "other"), keys=("x",)) as other:
            os.environ.update({"ALGORITHMIA_API": self.api.url, "ALGOS_CALL_TOKEN": "call-token"})
            with self.assertRaises(AlgorithmException) as cm:
                Algorithmia.client(api_address=other.url).algo("demo/echo").pipe(1)
            self.assertEqual(cm.exception.error_type, "AuthorizationError")
            self.assertNotIn("Authorization", other.last("/v1/algo").headers)
            self.assertIsNone(self.api.last("/v1/algo"))

    def test_address_resolution(self):
        with mock.patch.object(Algorithmia, "apiAddress", None):
            self.assertEqual(Algorithmia.client().apiAddress, "http://127.0.0.1:8080")
            os.environ["ALGORITHMIA_API"] = "http://agent:1234/"
            self.assertEqual(Algorithmia.client().apiAddress, "http://agent:1234")
            self.assertEqual(Algorithmia.client(api_address="https://api.example").apiAddress, "https://api.example")

    def test_default_client(self):
        os.environ["ALGORITHMIA_API"] = self.api.url
        with mock.patch.object(Algorithmia, "apiKey", KEY):
            self.assertEqual(Algorithmia.algo("demo/echo").pipe([1]).result, [1])

    def test_unreachable_api(self):
        with self.assertRaises(ApiError) as cm:
            Algorithmia.client(KEY, "http://127.0.0.1:1").algo("demo/echo").pipe(1)
        self.assertIsNone(cm.exception.status_code)
        self.assertNotIn(KEY, str(cm.exception))


class TestAlgorithms(APITest):
    def test_input_encodings(self):
        tests = [
            ("text", "héllo", "text/plain", "héllo", "text"),
            ("bytes", b"\x00\xff", "application/octet-stream", b"\x00\xff", "binary"),
            ("bytearray", bytearray(b"ab"), "application/octet-stream", b"ab", "binary"),
            ("dict", {"a": [1, 2.5, None]}, "application/json", {"a": [1, 2.5, None]}, "json"),
            ("list", [1, "two"], "application/json", [1, "two"], "json"),
            ("none", None, "application/json", None, "json"),
            ("number", 3, "application/json", 3, "json"),
        ]
        for name, value, content_type, result, kind in tests:
            with self.subTest(name):
                resp = self.client.algo("demo/echo/1.*").pipe(value)
                self.assertEqual(self.api.last("/v1/algo").headers["Content-Type"], content_type)
                self.assertEqual(resp.result, result)
                self.assertEqual(resp.metadata.content_type, kind)
                self.assertIsInstance(resp.metadata.duration, float)
                self.assertEqual(self.api.last("/v1/algo").path, "/v1/algo/demo/echo/1.*")

    def test_refs(self):
        for ref in ("demo/echo", "algo://demo/echo", "/demo/echo/1.2.3", "demo/echo/latest"):
            with self.subTest(ref):
                self.assertEqual(self.client.algo(ref).pipe("x").result, "x")
        for ref in ("echo", "", "algo://"):
            with self.subTest(ref), self.assertRaises(ValueError):
                self.client.algo(ref)

    def test_options(self):
        algo = self.client.algo("demo/echo").set_options(timeout=20, stdout=True)
        resp = algo.pipe("x")
        self.assertEqual(self.api.last("/v1/algo").query, {"timeout": "20", "stdout": "true"})
        self.assertEqual(resp.metadata.stdout, "log of demo/echo\n")

        self.assertEqual(self.client.algo("demo/echo").set_options(output=OutputType.raw).pipe({"a": 1}), '{"a": 1}')
        self.assertEqual(self.api.last("/v1/algo").query["output"], "raw")
        self.assertEqual(self.client.algo("demo/echo").set_options(output="raw").pipe(b"\x01"), b"\x01")
        self.assertEqual(self.client.algo("demo/echo").set_options(output="raw").pipe("t"), "t")

        resp = self.client.algo("demo/echo").set_options(output=OutputType.void).pipe("x")
        self.assertIsInstance(resp, AsyncResponse)
        self.assertEqual((resp.async_protocol, resp.request_id), ("void", "req-fake-1"))

    def test_errors(self):
        with self.assertRaises(AlgorithmException) as cm:
            self.client.algo("demo/fail").pipe({"n": 1})
        e = cm.exception
        self.assertEqual(e.message, "the input is wrong: {'n': 1}")
        self.assertEqual(e.error_type, "InputError")
        self.assertIn("in fail", e.stacktrace)
        self.assertEqual(e.stack_trace, e.stacktrace)
        self.assertEqual(e.status_code, 400)
        self.assertIsInstance(e, ApiError)

        with self.assertRaises(AlgorithmException) as cm:
            self.client.algo("demo/missing").pipe(1)
        self.assertEqual((cm.exception.error_type, cm.exception.status_code), ("NotFoundError", 404))

        with self.assertRaises(AlgorithmException) as cm:
            Algorithmia.client("wrong-key", self.api.url).algo("demo/echo").pipe(1)
        self.assertEqual(cm.exception.error_type, "AuthorizationError")

        with self.assertRaises(AlgorithmException) as cm:
            self.client.algo("demo/fail").set_options(output="raw").pipe(1)
        self.assertEqual(cm.exception.error_type, "InputError")

        def gateway(_):
            raise Reply(502, b"<html>bad gateway</html>", "text/html")

        self.api.algorithms["demo/proxy"] = gateway
        with self.assertRaises(ApiInternalError) as cm:
            self.client.algo("demo/proxy").pipe(1)
        self.assertIn("bad gateway", str(cm.exception))

        with self.assertRaises(ValueError):
            self.client.algo("demo/echo").pipe(float("nan"))
        with self.assertRaises(ValueError):
            self.client.algo("demo/echo").set_options(output="stream")

    def test_bad_binary_result(self):
        def bad(_):
            raise Reply(200, b'{"result":"**","metadata":{"content_type":"binary"}}', "application/json")

        self.api.algorithms["demo/bad"] = bad
        with self.assertRaises(ApiError):
            self.client.algo("demo/bad").pipe(1)


class TestData(APITest):
    def setUp(self):
        super().setUp()
        self.api.collection("demo", "c")

    def test_file_round_trips(self):
        f = self.client.file("data://demo/c/a.txt")
        self.assertFalse(f.exists())
        self.assertIs(f.put("héllo\n"), f)
        self.assertTrue(f.exists())
        self.assertEqual(f.getString(), "héllo\n")
        self.assertEqual(f.getBytes(), "héllo\n".encode())
        with f.getFile() as got:
            self.assertEqual(got.read(), "héllo\n")
        os.unlink(got.name)
        with f.get() as got:
            self.assertEqual(got.read(), "héllo\n".encode())
            self.assertTrue(os.path.exists(got.name))
        self.assertFalse(os.path.exists(got.name), "get()'s temporary file outlived it")
        self.assertEqual(f.getName(), "a.txt")

        b = self.client.file("demo/c/b.bin").put(b"\x00\xff")
        self.assertEqual(b.getBytes(), b"\x00\xff")
        path = b.getFile(as_path=True)
        self.addCleanup(os.unlink, path)
        with open(path, "rb") as got:
            self.assertEqual(got.read(), b"\x00\xff")

        j = self.client.file("data://demo/c/j.json").putJson({"a": [1, None]})
        self.assertEqual(j.getJson(), {"a": [1, None]})
        with self.assertRaises(TypeError):
            j.put({"a": 1})

        self.assertTrue(f.delete())
        self.assertFalse(f.exists())
        self.assertTrue(f.delete(), "deleting a missing file succeeds")

    def test_file_errors(self):
        with self.assertRaises(DataApiError) as cm:
            self.client.file("data://demo/c/missing.txt").getString()
        self.assertEqual(cm.exception.status_code, 404)
        self.assertIn("missing.txt", str(cm.exception))
        with self.assertRaises(DataApiError) as cm:
            self.client.file("data://demo/nope/x.txt").put("x")
        self.assertEqual(cm.exception.status_code, 404)
        self.client.file("data://demo/c/dir/x.txt").put("x")
        with self.assertRaises(DataApiError):
            self.client.file("data://demo/c/dir").getBytes()
        self.assertFalse(self.client.file("data://demo/c/dir").exists())
        with self.assertRaises(DataApiError) as cm:
            Algorithmia.client("wrong", self.api.url).file("data://demo/c/dir/x.txt").exists()
        self.assertEqual(cm.exception.status_code, 401)
        with self.assertRaises(ValueError):
            self.client.file("file:///etc/hosts")

    def test_connectors(self):
        tests = [
            ("s3://bucket/key k.txt", "/v1/connector/s3/bucket/key%20k.txt"),
            ("s3+prod://bucket/key.txt", "/v1/connector/s3+prod/bucket/key.txt"),
            ("gs://bucket/a/b.txt", "/v1/connector/gs/bucket/a/b.txt"),
            ("azure://container/blob.txt", "/v1/connector/azure/container/blob.txt"),
            ("blob://path/x.txt", "/v1/connector/blob/path/x.txt"),
        ]
        for uri, url in tests:
            with self.subTest(uri):
                f = self.client.file(uri)
                self.assertEqual(f.url, url)
                f.put("data of " + uri)
                self.assertEqual(self.api.last("/v1/connector").path, url)
                self.assertEqual(f.getString(), "data of " + uri)
        names = sorted(x.getName() for x in self.client.dir("s3://bucket").files())
        self.assertEqual(names, ["key k.txt"])
        self.assertEqual([d.path for d in self.client.dir("gs://bucket").dirs()], ["gs://bucket/a"])

    def test_listing_pages(self):
        d = self.client.dir("data://demo/c")
        for i in range(5):
            d.file("f%d.txt" % i).put("x" * i)
        for name in ("sub1", "sub2"):
            d.dir(name).create()
        # The fake answers 2 entries a page: 7 entries take 4 pages.
        entries = list(d.list())
        self.assertEqual([e.getName() for e in entries], ["sub1", "sub2", "f0.txt", "f1.txt", "f2.txt", "f3.txt", "f4.txt"])
        listings = [r for r in self.api.requests if r.method == "GET" and r.path == "/v1/data/demo/c"]
        self.assertEqual([r.query.get("marker") for r in listings], [None, "2", "4", "6"])
        files = list(d.files())
        self.assertEqual([f.size for f in files], [0, 1, 2, 3, 4])
        self.assertEqual(files[0].last_modified.year, 2016)
        self.assertTrue(all(f.is_file() for f in files))
        dirs = list(d.dirs())
        self.assertEqual([x.path for x in dirs], ["demo/c/sub1", "demo/c/sub2"])
        self.assertTrue(all(x.is_dir() for x in dirs))
        self.assertEqual(list(dirs[0].list()), [])
        self.assertEqual([c.getName() for c in self.client.dir("data://demo").dirs()], ["c"])

    def test_directories(self):
        d = self.client.dir("data://demo/new")
        self.assertFalse(d.exists())
        self.assertIs(d.create(ReadAcl.public), d)
        self.assertTrue(d.exists())
        self.assertEqual(d.get_permissions().read_acl, AclType.public)
        self.assertTrue(d.update_permissions(ReadAcl.private))
        self.assertEqual(d.get_permissions().read_acl, AclType.private)
        with self.assertRaises(DataApiError) as cm:
            d.create()
        self.assertEqual(cm.exception.status_code, 409)

        sub = d.dir("sub")
        sub.create()
        self.assertTrue(sub.exists())
        sub.file("x.txt").put("x")
        self.assertTrue(sub.file("x.txt").exists())
        self.assertFalse(self.client.dir("data://demo/new/sub/x.txt").exists(), "a file is not a directory")
        with self.assertRaises(DataApiError):
            list(self.client.dir("data://demo/new/sub/x.txt").list())
        with self.assertRaises(DataApiError) as cm:
            sub.delete()
        self.assertEqual(cm.exception.status_code, 409)
        self.assertTrue(sub.delete(force=True))
        self.assertFalse(sub.exists())
        self.assertTrue(d.delete())
        self.assertTrue(d.delete(), "deleting a missing directory succeeds")
        with self.assertRaises(DataApiError):
            list(self.client.dir("data://demo/gone").list())

    def test_streaming(self):
        size = 24 << 20
        path, digest = self.local_file(size)
        f = self.client.file("data://demo/c/big.bin")
        tracemalloc.start()
        try:
            f.putFile(path)
            _, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            got = f.getFile(as_path=True)
            _, get_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            tmp = f.get()
            _, tmp_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.addCleanup(os.unlink, got)
        self.assertEqual(self.api.uploads[-1], ("data://demo/c/big.bin", str(size), size, digest))
        with open(got, "rb") as r:
            self.assertEqual(hashlib.sha256(r.read()).hexdigest(), digest)
        with tmp:
            self.assertEqual(hashlib.sha256(tmp.read()).hexdigest(), digest)
        self.assertLess(tmp_peak, size // 8, "get held %d bytes of a %d-byte file" % (tmp_peak, size))
        # Client and server together hold a few chunks, never the file.
        self.assertLess(put_peak, size // 8, "putFile held %d bytes of a %d-byte file" % (put_peak, size))
        self.assertLess(get_peak, size // 8, "getFile held %d bytes of a %d-byte file" % (get_peak, size))


class TestResponses(unittest.TestCase):
    def test_binary_metadata(self):
        from Algorithmia.algo_response import AlgoResponse

        r = AlgoResponse.create_algo_response({"result": base64.b64encode(b"\x01").decode(), "metadata": {"content_type": "binary", "duration": 1}})
        self.assertEqual(r.result, b"\x01")
        self.assertEqual(r.metadata["duration"], 1)
        self.assertIn("content_type='binary'", repr(r.metadata))
        with self.assertRaises(AlgorithmException):
            AlgoResponse.create_algo_response({"error": {"message": "m"}})
        self.assertEqual(json.loads(json.dumps(r.metadata.full_metadata)), {"content_type": "binary", "duration": 1})


if __name__ == "__main__":
    unittest.main()


class SocketTest(unittest.TestCase):
    """Inside a sandboxed worker the agent is reached through its Unix socket."""

    def setUp(self):
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        for name in ENV:
            os.environ.pop(name, None)

    def test_token_goes_through_the_agent_socket(self):
        import http.server
        import socketserver
        import threading

        seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def address_string(self):
                return "unix"

            def log_message(self, *args):
                pass

            def do_POST(self):
                seen.append((self.path, self.headers.get("Authorization")))
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.dumps({"result": "via socket", "metadata": {"content_type": "text", "duration": 0.001}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        d = tempfile.mkdtemp(prefix="sock")  # short: a socket path is at most 107 bytes
        path = os.path.join(d, "agent.sock")
        srv = Server(path, Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        # Nothing listens at ALGORITHMIA_API: only the socket can answer.
        os.environ.update({"ALGORITHMIA_API": "http://127.0.0.1:1", "ALGOS_API_SOCKET": path, "ALGOS_CALL_TOKEN": "act_tok"})
        res = Algorithmia.client().algo("demo/hello").pipe("x")
        self.assertEqual(res.result, "via socket")
        self.assertEqual(seen, [("/v1/algo/demo/hello", "Simple act_tok")])
        # A client with an address of its own never uses the socket (nor the token).
        with self.assertRaises(ApiError):
            Algorithmia.client("some-key", "http://127.0.0.1:2").algo("demo/hello").pipe("x")
        self.assertEqual(len(seen), 1)
