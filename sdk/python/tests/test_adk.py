"""Algorithmia's ADK, run locally and under the algos runner, and the call's token reaching the
client through the runner."""

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

from Algorithmia import ADK
from Algorithmia.adk import Handler

from fakeapi import FakeAPI
from worker import SDK, Worker

# An algorithm written for Algorithmia's ADK, unchanged: the functions the ADK gets are not the
# module's apply and load, so a runner that served those would answer differently.
ADK_ALGORITHM = textwrap.dedent('''
    import Algorithmia
    from Algorithmia import ADK

    calls = 0

    def load_model():
        print("loading model")
        return {"greeting": "hello"}

    def serve(input, model):
        global calls
        calls += 1
        if isinstance(input, bytes):
            return input[::-1]
        if input == "fail":
            raise ValueError("cannot greet fail")
        return {"greeting": model["greeting"] + " " + str(input), "calls": calls}

    def apply(input):
        return "the module's apply, not the ADK's"

    algorithm = ADK(serve, load_model)
    algorithm.init("Algorithmia")
''')

GUARDED_ALGORITHM = textwrap.dedent('''
    from Algorithmia import ADK

    def apply(input):
        return "guarded " + input

    algorithm = ADK(apply)
    if __name__ == "__main__":
        algorithm.init("Algorithmia")
''')

TWICE_ALGORITHM = textwrap.dedent('''
    from Algorithmia import ADK

    def apply(input):
        return input

    ADK(apply).init()
    ADK(apply).init()
''')

# Creates its client at import, before any call, as algorithms do.
TOKEN_ALGORITHM = textwrap.dedent('''
    import os
    import subprocess
    import sys

    import Algorithmia
    from Algorithmia.errors import AlgorithmException

    client = Algorithmia.client()

    def apply(input):
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('ALGOS_CALL_TOKEN'), os.environ.get('ALGOS_REQUEST_ID'))"],
                               capture_output=True, text=True, check=True).stdout.split()
        try:
            result = client.algo("demo/echo").pipe(input).result
        except AlgorithmException as e:
            result = e.error_type
        return {"result": result, "child": child, "token": os.environ.get("ALGOS_CALL_TOKEN")}
''')


class TestADKLocal(unittest.TestCase):
    def test_payload(self):
        loads = []

        def load():
            loads.append(1)
            return "state"

        def apply(input, state):
            return {"input": input, "state": state}

        out = []
        ADK(apply, load).init("Algorithmia", pprint=out.append)
        self.assertEqual(len(loads), 1)
        self.assertEqual([json.loads(x) for x in out], [{"result": {"input": "Algorithmia", "state": "state"}, "metadata": {"content_type": "json"}}])

    def test_results_and_errors(self):
        class InputError(Exception):
            error_type = "InputError"

        def apply(input):
            if input == "bytes":
                return b"\x00\xff"
            if input == "custom":
                raise InputError("wrong input")
            if input == "plain":
                raise RuntimeError("broken")
            return input

        tests = [
            ("text", {"result": "text", "metadata": {"content_type": "text"}}),
            ("bytes", {"result": base64.b64encode(b"\x00\xff").decode(), "metadata": {"content_type": "binary"}}),
            ([1], {"result": [1], "metadata": {"content_type": "json"}}),
            ("custom", ("InputError", "wrong input")),
            ("plain", ("AlgorithmError", "broken")),
        ]
        for payload, want in tests:
            with self.subTest(payload):
                out = []
                ADK(apply).init(payload, pprint=out.append)
                got = json.loads(out[0])
                if isinstance(want, tuple):
                    self.assertEqual((got["error"]["error_type"], got["error"]["message"]), want)
                    self.assertIn("Traceback", got["error"]["stacktrace"])
                else:
                    self.assertEqual(got, want)

    def test_load_error(self):
        def load():
            raise OSError("model file missing")

        out = []
        ADK(lambda x: x, load).init("x", pprint=out.append)
        self.assertEqual(json.loads(out[0])["error"]["error_type"], "LoadingError")

    def test_stdin_requests(self):
        lines = "\n".join([
            json.dumps({"content_type": "text", "data": "a"}),
            json.dumps({"content_type": "binary", "data": base64.b64encode(b"ab").decode()}),
            "",
            json.dumps({"content_type": "xml", "data": "a"}),
        ]) + "\n"
        out = []
        with mock.patch("sys.stdin", io.StringIO(lines)):
            Handler(lambda x: x).init(pprint=out.append)
        got = [json.loads(x) for x in out]
        self.assertEqual(got[0]["result"], "a")
        self.assertEqual(got[1], {"result": base64.b64encode(b"ab").decode(), "metadata": {"content_type": "binary"}})
        self.assertIn("content_type", got[2]["error"]["message"])
        self.assertEqual(len(got), 3)

    def test_signatures(self):
        with self.assertRaises(ValueError):
            ADK(lambda a, b, c: a)
        with self.assertRaises(ValueError):
            ADK(lambda: 1)
        with self.assertRaises(ValueError):
            ADK(lambda a: a, lambda x: x)
        ADK(lambda a, b=1, *rest: a, lambda x=1: x)

    def test_script(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "Algorithm.py")
            with open(path, "w") as f:
                f.write(ADK_ALGORITHM)
            env = dict(os.environ, PYTHONPATH=SDK, PYTHONDONTWRITEBYTECODE="1")
            out = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True, timeout=60, check=True).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], "loading model")
        self.assertEqual(json.loads(lines[1]), {"result": {"greeting": "hello Algorithmia", "calls": 1}, "metadata": {"content_type": "json"}})


class TestADKUnderRunner(unittest.TestCase):
    def worker(self, files, entrypoint, env=None):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        w = Worker(tmp.name, files, entrypoint, env)
        self.addCleanup(w.close)
        return w

    def test_serves_the_adk_functions(self):
        w = self.worker({"src/Algorithm.py": ADK_ALGORITHM}, "src/Algorithm.py")
        self.assertEqual(w.wait_init(), ["loading model"])
        resp, log = w.call({"content_type": "text", "data": "world"})
        self.assertEqual(resp, {"result": {"greeting": "hello world", "calls": 1}, "metadata": {"content_type": "json"}})
        self.assertEqual(log, [])
        resp, _ = w.call({"content_type": "binary", "data": base64.b64encode(b"abc").decode()})
        self.assertEqual(resp, {"result": base64.b64encode(b"cba").decode(), "metadata": {"content_type": "binary"}})
        resp, _ = w.call({"content_type": "text", "data": "fail"})
        self.assertEqual((resp["error"]["error_type"], resp["error"]["message"]), ("AlgorithmError", "cannot greet fail"))
        resp, _ = w.call({"content_type": "json", "data": 2})
        self.assertEqual(resp["result"], {"greeting": "hello 2", "calls": 4})
        code, rest = w.finish()
        self.assertEqual((code, rest), (0, ""))

    def test_init_behind_main_guard_serves_module_apply(self):
        w = self.worker({"Algorithm.py": GUARDED_ALGORITHM}, "Algorithm.py")
        w.wait_init()
        resp, _ = w.call({"content_type": "text", "data": "x"})
        self.assertEqual(resp["result"], "guarded x")
        self.assertEqual(w.finish()[0], 0)

    def test_init_twice_fails_to_start(self):
        w = self.worker({"a.py": TWICE_ALGORITHM}, "a.py")
        code, log = w.exit_log()
        self.assertEqual(code, 1)
        self.assertIn("ADK.init() was called twice", log)
        self.assertNotIn("PIPE_INIT_COMPLETE", log)

    def test_call_token_reaches_client_and_children(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        with FakeAPI(os.path.join(tmp.name, "store"), keys=("call-token-1",)) as api:
            api.algorithms["demo/echo"] = lambda x: x
            w = self.worker({"token_algo.py": TOKEN_ALGORITHM}, "token_algo.py", env={"ALGORITHMIA_API": api.url, "ALGOS_CALL_TOKEN": "stale", "ALGORITHMIA_API_KEY": ""})
            w.wait_init()
            resp, _ = w.call({"content_type": "text", "data": "hi", "algos": {"token": "call-token-1", "request_id": "req-1"}, "future_field": 1})
            self.assertEqual(resp["result"], {"result": "hi", "child": ["call-token-1", "req-1"], "token": "call-token-1"})
            r = api.last("/v1/algo")
            self.assertEqual(r.headers["Authorization"], "Simple call-token-1")
            self.assertEqual(r.headers["X-Algos-Parent-Request"], "req-1")

            # A request without the field (an older agent) runs without a token.
            resp, _ = w.call({"content_type": "text", "data": "hi"})
            self.assertEqual(resp["result"], {"result": "AuthorizationError", "child": ["None", "None"], "token": None})
            self.assertNotIn("Authorization", api.last("/v1/algo").headers)
            # What is not a string in the field is ignored.
            resp, _ = w.call({"content_type": "json", "data": 1, "algos": {"token": 7, "request_id": ["x"]}})
            self.assertEqual(resp["result"]["token"], None)
            resp, _ = w.call({"content_type": "json", "data": 1, "algos": "not an object"})
            self.assertEqual(resp["result"]["child"], ["None", "None"])
            self.assertEqual(w.finish()[0], 0)


if __name__ == "__main__":
    unittest.main()
