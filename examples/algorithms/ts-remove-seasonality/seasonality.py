"""Removes the seasonality of a time series with a classical additive decomposition:

    x[t] = trend[t] + seasonal[t] + remainder[t]

The trend is the centered moving average over one period (2×p for an even period p); the seasonal
index of each position in the period is the mean of x - trend there, shifted to sum to zero. The
period is given, or found by autocorrelation of the linearly detrended series.

Input: a list of numbers; {"series": [...], "period": N}; or CSV text whose "value" column (else
its last numeric column) is the series. Output:

    {"series": x - seasonal (the deseasonalized series), "seasonal": [...], "seasonal_indices":
     [p numbers], "period": p, "trend": [... null at the ends]}

which ts-forecast takes as its input. Standard library only.
"""

import csv
import io
import math

MIN_ACF = 0.3


class InputError(Exception):
    error_type = "InputError"


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError("the series holds %r: use finite numbers" % (v,))
    return float(v)


def _float(cell):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_header(rows):
    """The first row is a header when one of its cells is not a number where the second row has
    one (or, alone, when none of its cells is a number)."""
    first = rows[0]
    if len(rows) == 1:
        return all(_float(c) is None for c in first)
    second = rows[1]
    return any(_float(c) is None and j < len(second) and _float(second[j]) is not None for j, c in enumerate(first))


def parse_csv(text):
    """Returns the series in CSV text: the column named "value" (any case), else the last column
    whose cells are all numbers. A first row with words where the next has numbers is the header;
    lines starting with # are comments."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise InputError("the CSV text holds no rows")
    header = None
    if _is_header(rows):
        header, rows = [c.strip().lower() for c in rows[0]], rows[1:]
    if not rows:
        raise InputError("the CSV text holds a header and no values")
    if len(rows) == 1 and header is None:  # one line of numbers: the series itself
        rows = [[c] for c in rows[0]]
    width = max(len(r) for r in rows)
    column = None
    if header is not None and "value" in header:
        column = header.index("value")
    else:
        for j in range(width - 1, -1, -1):
            if all(len(r) > j and _float(r[j]) is not None for r in rows):
                column = j
                break
    if column is None:
        raise InputError('the CSV text has no column of numbers: name one "value"')
    series = []
    for i, r in enumerate(rows):
        v = _float(r[column]) if len(r) > column else None
        if v is None:
            raise InputError("CSV row %d has no number in column %d" % (i + 1 + (header is not None), column + 1))
        series.append(v)
    return series


def parse_input(input):
    """Returns (series, period or None)."""
    period = None
    if isinstance(input, (bytes, bytearray)):
        input = bytes(input).decode("utf-8")
    if isinstance(input, str):
        series = parse_csv(input)
    elif isinstance(input, list):
        series = [_number(v) for v in input]
    elif isinstance(input, dict):
        if isinstance(input.get("series"), list):
            series = [_number(v) for v in input["series"]]
        elif isinstance(input.get("csv"), str):
            series = parse_csv(input["csv"])
        else:
            raise InputError('give "series": [numbers] (or "csv": text)')
        period = input.get("period")
        if period is not None and (isinstance(period, bool) or not isinstance(period, int) or period < 1):
            raise InputError("period must be a whole number of at least 1, not %r" % (period,))
    else:
        raise InputError('give a list of numbers, {"series": [...], "period": N}, or CSV text')
    if len(series) < 4:
        raise InputError("the series needs at least 4 values, not %d" % len(series))
    return series, period


def linear_fit(x):
    """Returns the least-squares line through (t, x[t]) as (intercept, slope)."""
    n = len(x)
    tm = (n - 1) / 2.0
    xm = sum(x) / n
    var = sum((t - tm) ** 2 for t in range(n))
    slope = sum((t - tm) * (v - xm) for t, v in enumerate(x)) / var if var else 0.0
    return xm - slope * tm, slope


def autocorrelation(x, max_lag):
    """The sample autocorrelation of x at lags 0..max_lag (the biased estimator)."""
    n = len(x)
    m = sum(x) / n
    y = [v - m for v in x]
    var = sum(v * v for v in y)
    if var == 0:
        return [1.0] + [0.0] * max_lag
    return [sum(y[t] * y[t + k] for t in range(n - k)) / var for k in range(max_lag + 1)]


def detect_period(x):
    """The season length of x: the shortest lag whose autocorrelation (of x without its linear
    trend) is a peak within 90% of the highest peak above MIN_ACF; 1 when there is none."""
    n = len(x)
    a, b = linear_fit(x)
    residual = [v - (a + b * t) for t, v in enumerate(x)]
    max_lag = n // 2
    if max_lag < 3:
        return 1
    acf = autocorrelation(residual, max_lag)
    peaks = [k for k in range(2, max_lag) if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1] and acf[k] > MIN_ACF]
    if not peaks:
        return 1
    best = max(acf[k] for k in peaks)
    return min(k for k in peaks if acf[k] >= 0.9 * best)


def centered_moving_average(x, p):
    """The trend: the centered moving average of length p (2×p when p is even); None within p/2
    of either end."""
    n, half = len(x), p // 2
    trend = [None] * n
    for i in range(half, n - half):
        if p % 2:
            trend[i] = sum(x[i - half:i + half + 1]) / p
        else:
            trend[i] = (0.5 * x[i - half] + sum(x[i - half + 1:i + half]) + 0.5 * x[i + half]) / p
    return trend


def decompose(x, period=None):
    """Returns the decomposition of x (see the module's doc)."""
    p = period or detect_period(x)
    if p > 1 and len(x) < 2 * p:
        raise InputError("a period of %d needs at least %d values (two periods), not %d" % (p, 2 * p, len(x)))
    if p == 1:
        return {"series": list(x), "seasonal": [0.0] * len(x), "seasonal_indices": [0.0], "period": 1,
                "trend": list(x)}
    trend = centered_moving_average(x, p)
    sums, counts = [0.0] * p, [0] * p
    for i, (v, tr) in enumerate(zip(x, trend)):
        if tr is not None:
            sums[i % p] += v - tr
            counts[i % p] += 1
    raw = [s / c for s, c in zip(sums, counts)]
    mean = sum(raw) / p
    indices = [r - mean for r in raw]
    seasonal = [indices[i % p] for i in range(len(x))]
    return {
        "series": [v - s for v, s in zip(x, seasonal)],
        "seasonal": seasonal,
        "seasonal_indices": indices,
        "period": p,
        "trend": trend,
    }


def apply(input):
    series, period = parse_input(input)
    return decompose(series, period)
