"""Forecasts a time series with exponential smoothing, the parameters fitted by a grid search on
the sum of squared one-step-ahead errors (SSE):

- Holt's linear method (level and trend) for a series without seasonality, or one whose seasonality
  ts-remove-seasonality took out: its seasonal indices are added back to the forecast;
- Holt-Winters' additive method (level, trend and season) for a series given with its period and
  no seasonal indices.

Input: the output of ts-remove-seasonality ({"series", "seasonal_indices", "period"}), or
{"series": [...], "period": N} (Holt-Winters), or a list of numbers (Holt); "horizon" (default 12)
steps to forecast; "method": "auto" (default), "holt" or "holt-winters". Output:

    {"forecast": [horizon numbers], "method": "holt" | "holt-winters", "params": {"alpha", "beta"
     [, "gamma"]}, "sse": ..., "horizon": h, "period": p}

Standard library only.
"""

import math

GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MAX_HORIZON = 1000


class InputError(Exception):
    error_type = "InputError"


def _numbers(values, what):
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError("%s holds %r: use finite numbers" % (what, v))
        out.append(float(v))
    return out


def holt(x, alpha, beta):
    """Holt's linear method. Returns (SSE of the one-step forecasts, level, trend) at the end."""
    level, trend = x[0], x[1] - x[0]
    sse = 0.0
    for v in x[1:]:
        e = v - (level + trend)
        sse += e * e
        new_level = alpha * v + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return sse, level, trend


def holt_winters(x, p, alpha, beta, gamma):
    """Holt-Winters' additive method, started from the first two periods (their means give the
    level and trend, the first period the seasons). Returns (SSE of the one-step forecasts from
    the second period on, level, trend, seasons) at the end."""
    first, second = sum(x[:p]) / p, sum(x[p:2 * p]) / p
    trend = (second - first) / p
    level = first + trend * (p - 1) / 2.0  # the level at t = p - 1
    seasons = [x[i] - (first + trend * (i - (p - 1) / 2.0)) for i in range(p)]
    sse = 0.0
    for t in range(p, len(x)):
        v, s = x[t], seasons[t % p]
        e = v - (level + trend + s)
        sse += e * e
        new_level = alpha * (v - s) + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        seasons[t % p] = gamma * (v - new_level) + (1 - gamma) * s
        level = new_level
    return sse, level, trend, seasons


def fit_holt(x):
    best = None
    for a in GRID:
        for b in GRID:
            sse = holt(x, a, b)[0]
            if best is None or sse < best[0]:
                best = (sse, a, b)
    return best


def fit_holt_winters(x, p):
    best = None
    for a in GRID:
        for b in GRID:
            for g in GRID:
                sse = holt_winters(x, p, a, b, g)[0]
                if best is None or sse < best[0]:
                    best = (sse, a, b, g)
    return best


def forecast(x, horizon, period=1, seasonal_indices=None, method="auto"):
    n = len(x)
    if method == "auto":
        method = "holt-winters" if period > 1 and not seasonal_indices else "holt"
    if method == "holt-winters":
        if period < 2:
            raise InputError("holt-winters needs a period of at least 2")
        if n < 2 * period + 1:
            raise InputError("holt-winters with a period of %d needs at least %d values, not %d" % (period, 2 * period + 1, n))
        sse, a, b, g = fit_holt_winters(x, period)
        _, level, trend, seasons = holt_winters(x, period, a, b, g)
        values = [level + h * trend + seasons[(n + h - 1) % period] for h in range(1, horizon + 1)]
        return {"forecast": values, "method": method, "params": {"alpha": a, "beta": b, "gamma": g}, "sse": sse,
                "horizon": horizon, "period": period}
    if method != "holt":
        raise InputError('method is "auto", "holt" or "holt-winters", not %r' % (method,))
    sse, a, b = fit_holt(x)
    _, level, trend = holt(x, a, b)
    values = [level + h * trend for h in range(1, horizon + 1)]
    if seasonal_indices:
        p = len(seasonal_indices)
        values = [v + seasonal_indices[(n + h) % p] for h, v in enumerate(values)]
    return {"forecast": values, "method": "holt", "params": {"alpha": a, "beta": b}, "sse": sse, "horizon": horizon,
            "period": len(seasonal_indices) if seasonal_indices else period}


def apply(input):
    if isinstance(input, list):
        input = {"series": input}
    if not isinstance(input, dict) or not isinstance(input.get("series"), list):
        raise InputError('give {"series": [numbers], "horizon": N} or the output of ts-remove-seasonality')
    x = _numbers(input["series"], "series")
    if len(x) < 3:
        raise InputError("the series needs at least 3 values, not %d" % len(x))
    horizon = input.get("horizon", 12)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= MAX_HORIZON:
        raise InputError("horizon must be a whole number from 1 to %d, not %r" % (MAX_HORIZON, horizon))
    period = input.get("period") or 1
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise InputError("period must be a whole number of at least 1, not %r" % (period,))
    indices = input.get("seasonal_indices")
    if indices is not None:
        if not isinstance(indices, list) or not indices:
            raise InputError("seasonal_indices must be a list of numbers")
        indices = _numbers(indices, "seasonal_indices")
        if len(indices) == 1:
            indices = None  # period 1: nothing to add back
    return forecast(x, horizon, period, indices, input.get("method", "auto"))
