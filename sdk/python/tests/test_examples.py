"""The example algorithms of examples/algorithms: the time-series math, and my-algorithm's pipeline
run by the runner against the stand-in API, the two time-series algorithms behind it."""

import importlib.util
import math
import os
import random
import tempfile
import unittest

import Algorithmia

from fakeapi import FakeAPI
from worker import SDK, Worker

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(SDK)), "examples", "algorithms")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seasonality = load("example_seasonality", "ts-remove-seasonality/seasonality.py")
forecast = load("example_forecast", "ts-forecast/forecast.py")

PATTERN12 = [3.0, 5.5, 7.0, 5.0, 2.0, -1.0, -4.0, -6.5, -7.0, -4.0, -1.0, 1.0]  # sums to zero


def seasonal_series(n, pattern=PATTERN12, level=50.0, slope=0.5, noise=0.0, seed=7):
    rng = random.Random(seed)
    return [level + slope * t + pattern[t % len(pattern)] + (rng.gauss(0, noise) if noise else 0.0) for t in range(n)]


class TestRemoveSeasonality(unittest.TestCase):
    def test_recovers_pattern(self):
        out = seasonality.apply(seasonal_series(60))
        self.assertEqual(out["period"], 12)
        for got, want in zip(out["seasonal_indices"], PATTERN12):
            self.assertAlmostEqual(got, want, places=9)
        # What is left is the linear trend.
        for t, v in enumerate(out["series"]):
            self.assertAlmostEqual(v, 50.0 + 0.5 * t, places=9)
        self.assertEqual(out["trend"][:6], [None] * 6)
        self.assertAlmostEqual(out["trend"][6], 53.0)

    def test_noisy_and_odd_periods(self):
        pattern7 = [4.0, 1.0, -2.0, -5.0, -1.0, 1.0, 2.0]
        tests = [
            ("monthly, noisy", seasonal_series(72, noise=0.5), None, 12, PATTERN12, 0.5),
            ("weekly, detected", seasonal_series(56, pattern7, noise=0.3), None, 7, pattern7, 0.4),
            ("weekly, given", {"series": seasonal_series(56, pattern7), "period": 7}, 7, 7, pattern7, 1e-9),
        ]
        for name, input, _, period, pattern, tolerance in tests:
            with self.subTest(name):
                out = seasonality.apply(input)
                self.assertEqual(out["period"], period)
                for got, want in zip(out["seasonal_indices"], pattern):
                    self.assertLess(abs(got - want), tolerance)
                self.assertAlmostEqual(sum(out["seasonal_indices"]), 0.0, places=9)

    def test_no_seasonality(self):
        rng = random.Random(3)
        out = seasonality.apply([10 + 0.2 * t + rng.gauss(0, 1) for t in range(50)])
        self.assertEqual(out["period"], 1)
        self.assertEqual(out["seasonal_indices"], [0.0])

    def test_csv(self):
        x = seasonal_series(36)
        tests = [
            ("date,value", "date,value\n" + "".join("2020-%02d,%r\n" % (t % 12 + 1, v) for t, v in enumerate(x))),
            ("value column first", "Value,count\n" + "".join("%r,1\n" % v for v in x)),
            ("no header, last numeric column", "# comment\n" + "".join("a%d,%r\n" % (t, v) for t, v in enumerate(x))),
            ("one line", ",".join(repr(v) for v in x)),
            ("bytes", "\n".join(repr(v) for v in x).encode()),
        ]
        for name, text in tests:
            with self.subTest(name):
                out = seasonality.apply(text)
                self.assertEqual(out["period"], 12)
                self.assertAlmostEqual(out["series"][0], 50.0, places=9)

    def test_errors(self):
        tests = [
            [1, 2, 3],
            [1, 2, "x", 4],
            [1, 2, float("inf"), 4],
            {"series": [1.0] * 10, "period": 0},
            {"series": [1.0] * 10, "period": 6},
            {"values": [1, 2]},
            "date,value\n2020-01,\n2020-02,3\n2020-03,4\n2020-04,5\n",
            "a,b\nx,y\n",
            7,
        ]
        for input in tests:
            with self.subTest(input=input), self.assertRaises(seasonality.InputError):
                seasonality.apply(input)


class TestForecast(unittest.TestCase):
    def truth(self, start, horizon, pattern=PATTERN12):
        return seasonal_series(start + horizon, pattern)[start:]

    def test_holt_winters_clean(self):
        out = forecast.apply({"series": seasonal_series(48), "period": 12, "horizon": 24})
        self.assertEqual(out["method"], "holt-winters")
        self.assertEqual(len(out["forecast"]), 24)
        for got, want in zip(out["forecast"], self.truth(48, 24)):
            self.assertAlmostEqual(got, want, places=6)

    def test_holt_winters_noisy(self):
        out = forecast.apply({"series": seasonal_series(72, noise=0.5), "period": 12, "horizon": 12})
        errors = [abs(g - w) for g, w in zip(out["forecast"], self.truth(72, 12))]
        self.assertLess(max(errors), 1.5, errors)
        self.assertEqual(set(out["params"]), {"alpha", "beta", "gamma"})

    def test_holt_linear(self):
        out = forecast.apply([2.0 + 3.0 * t for t in range(10)])
        self.assertEqual(out["method"], "holt")
        for h, v in enumerate(out["forecast"], start=10):
            self.assertAlmostEqual(v, 2.0 + 3.0 * h, places=9)

    def test_after_remove_seasonality(self):
        decomposed = seasonality.apply(seasonal_series(50))  # 50: the forecast starts mid-period
        decomposed["horizon"] = 18
        out = forecast.apply(decomposed)
        self.assertEqual((out["method"], out["period"]), ("holt", 12))
        for got, want in zip(out["forecast"], self.truth(50, 18)):
            self.assertAlmostEqual(got, want, places=6)

    def test_errors(self):
        tests = [
            {"series": [1, 2]},
            {"series": [1, 2, 3], "horizon": 0},
            {"series": [1, 2, 3], "horizon": True},
            {"series": [1, 2, 3], "method": "arima"},
            {"series": [1.0] * 20, "period": 12},
            {"series": [1.0] * 20, "seasonal_indices": "x"},
            {"series": [1, None, 3]},
            "1,2,3",
        ]
        for input in tests:
            with self.subTest(input=input), self.assertRaises(forecast.InputError):
                forecast.apply(input)


class TestPipeline(unittest.TestCase):
    """my-algorithm, served by the runner, calls the stand-in API with the token of its call; the
    API runs the two time-series algorithms and serves records.csv."""

    def test_my_algorithm(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        with FakeAPI(os.path.join(tmp.name, "store"), keys=("owner-key", "call-token")) as api:
            api.algorithms["demo/ts-remove-seasonality"] = seasonality.apply
            api.algorithms["demo/ts-forecast"] = forecast.apply
            api.collection("demo", "ts")
            Algorithmia.client("owner-key", api.url).file("data://demo/ts/records.csv").putFile(os.path.join(EXAMPLES, "my-algorithm", "records.csv"))
            with open(os.path.join(EXAMPLES, "my-algorithm", "pipeline.py")) as f:
                source = f.read()
            w = Worker(os.path.join(tmp.name, "worker"), {"pipeline.py": source}, "pipeline.py", env={"ALGORITHMIA_API": api.url})
            self.addCleanup(w.close)
            w.wait_init()
            resp, log = w.call({"content_type": "json", "data": {"uri": "data://demo/ts/records.csv", "owner": "demo", "horizon": 12},
                                "algos": {"token": "call-token", "request_id": "req-pipeline"}})
            self.assertNotIn("error", resp, resp)
            out = resp["result"]
            self.assertEqual((out["method"], out["period"], out["horizon"]), ("holt", 12, 12))
            # records.csv: 200 + 1.5 t + 25 sin(2πt/12) + 8 cos(2πt/6) + 3 sin(2.3 t), t = 0..71.
            truth = [200 + 1.5 * t + 25 * math.sin(2 * math.pi * t / 12) + 8 * math.cos(2 * math.pi * t / 6) for t in range(72, 84)]
            errors = [abs(g - w) for g, w in zip(out["forecast"], truth)]
            self.assertLess(max(errors), 4.0, errors)
            calls = [r for r in api.requests if r.path.startswith(("/v1/algo", "/v1/data/demo/ts/records.csv"))][1:]
            self.assertEqual([r.path for r in calls], ["/v1/data/demo/ts/records.csv", "/v1/algo/demo/ts-remove-seasonality", "/v1/algo/demo/ts-forecast"])
            for r in calls:
                self.assertEqual(r.headers["Authorization"], "Simple call-token")
                self.assertEqual(r.headers["X-Algos-Parent-Request"], "req-pipeline")

            # A failure downstream reaches the caller with its type.
            resp, _ = w.call({"content_type": "json", "data": {"uri": "data://demo/ts/missing.csv"}, "algos": {"token": "call-token"}})
            self.assertEqual(resp["error"]["error_type"], "AlgorithmError")
            self.assertIn("unable to get file demo/ts/missing.csv", resp["error"]["message"])
            self.assertEqual(w.finish()[0], 0)


if __name__ == "__main__":
    unittest.main()
