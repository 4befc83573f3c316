"""The statistics computed after the read are total: whatever noisy values, noise scale,
suppression and confidence, ``privacy.statistics`` and ``api.statistics.block`` return
figures (finite or null numbers, in JSON) and never raise. ``block`` runs in the
transaction that charged the release: a raise would roll the charge back on that data."""

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from api import statistics as api_statistics
from api.statistics import Statistic
from api.tables import labels
from privacy import Axis, Policy, ratios, statistics
from privacy.release import decide
from schema.access import Release

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)
GENDER = Axis("gender", ("F", "M", "GM", "U"), frozenset({"GM"}))
MONTH = Axis("month", ("2024-01", "2024-02", "2024-03", "2024-04"))
YEAR = Axis("year", ("2023", "2024", "2025"))
EXTREME = [0, 1, -1, 9, 10, -(10**6), 10**6, 2**53, -(2**53), 2**62, -(2**62), 2**63 - 1]
counts = st.one_of(st.sampled_from(EXTREME), st.integers(-(10**4), 10**4))
scales = st.one_of(
    st.sampled_from([1e-9, 1e-3, 0.1, 1.0, 2.0, 1e3, 1e6, 1e8, 1e12]),
    st.floats(1e-6, 1e9, allow_nan=False),
)
confidences = st.one_of(
    st.sampled_from([math.nextafter(0.5, 1), 0.5 + 1e-9, 0.95, 1 - 1e-9, math.nextafter(1, 0)]),
    st.floats(0.5, 1, exclude_min=True, exclude_max=True),
)


@st.composite
def tables(draw):
    axes = draw(st.sampled_from([[GENDER], [MONTH], [GENDER, MONTH], [GENDER, YEAR], [YEAR]]))
    size = int(np.prod([len(a.codes) for a in axes]))
    sparse = st.sampled_from([0, 0, 5, 10**6])  # lines of zeros, periods from zero
    noisy = draw(
        st.lists(
            st.one_of(counts, sparse) if draw(st.booleans()) else sparse,
            min_size=size,
            max_size=size,
        )
    )
    hidden = draw(
        st.one_of(
            st.just([True] * size),
            st.just([False] * size),
            st.lists(st.booleans(), min_size=size, max_size=size),
        )
    )
    policy = Policy(threshold=draw(st.integers(1, 50)), sensitive_threshold=50)
    return axes, noisy, hidden, policy


def _finite(x):
    assert x is None or (isinstance(x, int | float) and math.isfinite(x)), x


def _check(figures):
    for f in figures:
        for x in (f.value, f.lower, f.upper):
            _finite(x)
        if f.suppressed:
            assert f.value is None and f.reason in statistics.REASONS


def _changes(axes, table, confidence):
    time = axes[-1]
    n = len(time.codes)
    yield statistics.changes(table, time.dimension, [0], [n - 1], confidence)
    yield statistics.changes(table, time.dimension, list(range(n - 1)), [n - 1], confidence)


@PROPERTY
@given(tables(), scales, confidences)
def test_statistics_of_a_direct_table_never_raise(drawn, scale, confidence):
    axes, noisy, hidden, policy = drawn
    table = statistics.direct_table(axes, noisy, scale, hidden, policy)
    for a in axes:
        _check(statistics.shares(table, a.dimension, confidence))
    time = axes[-1].dimension if axes[-1] is not GENDER else None
    _check(statistics.rates(table, time, 1, confidence))
    _check(statistics.rates(table, time, 10**6, confidence))
    if time is not None:
        for figures in _changes(axes, table, confidence):
            _check(figures)
            for f in figures:
                if f.percent is not None:
                    for x in (f.percent.value, f.percent.lower, f.percent.upper):
                        _finite(x)


@PROPERTY
@given(tables(), scales, confidences, st.data())
def test_statistics_of_a_table_of_linears_never_raise(drawn, scale, confidence, data):
    axes, noisy, hidden, policy = drawn
    n = len(noisy)
    # A summary's estimates are reals, some a rounding error from zero.
    nudge = data.draw(st.sampled_from([0.0, 1e-300, 1e-12, -1e-12, 0.4999]))
    cells = [
        ratios.Linear(v + nudge, max(int(v), 0), {"t": (scale, np.eye(n)[i])}, suppressed=h)
        for i, (v, h) in enumerate(zip(noisy, hidden, strict=True))
    ]
    table = statistics.cell_table(axes, cells, hidden, policy)
    for a in axes:
        _check(statistics.shares(table, a.dimension, confidence))
    if axes[-1] is not GENDER:
        for figures in _changes(axes, table, confidence):
            _check(figures)


def _release(axes, noisy, policy, scale):
    """A stored release and its body, as ``api.tables`` stores and serves them."""
    stored = {
        "cells": noisy,
        "scale": scale,
        "axes": [[a.dimension, list(a.codes), sorted(a.sensitive)] for a in axes],
        "policy": {"threshold": policy.threshold, "sensitive_threshold": 50},
    }
    _, shown, reasons = decide(np.asarray(noisy, dtype=np.int64), axes, policy)
    names = [labels(a) for a in axes]
    keys = list(np.ndindex(*[len(a.codes) for a in axes]))
    cells = [
        {
            "key": [names[d][axes[d].codes[j]] for d, j in enumerate(key)],
            "count": None if reasons[i] else int(shown[i]),
            "suppressed": bool(reasons[i]),
            "total": False,
        }
        for i, key in enumerate(keys)
    ]
    return Release(noisy=json.dumps(stored)), json.dumps({"cells": cells}).encode()


def _asked(axes):
    yield from (Statistic("share", of=a.dimension) for a in axes)
    time = axes[-1] if axes[-1] is not GENDER else None
    yield Statistic("rate", time=time and time.dimension, months=len(time.codes) if time else 3)
    if time is not None:
        first, last = time.codes[0], time.codes[-1]
        yield Statistic("change", before=first, after=last, time=time.dimension)
        if time is MONTH:
            yield Statistic("change", before="2024-01", after="2024-04", time="month")


@PROPERTY
@given(tables(), scales, confidences)
def test_the_block_of_any_release_is_json_and_never_raises(drawn, scale, confidence):
    axes, noisy, _, policy = drawn
    release, content = _release(axes, noisy, policy, scale)
    for stat in _asked(axes):
        block = api_statistics.block(stat, release, content, confidence)
        json.dumps(block, allow_nan=False)  # no NaN nor infinity reaches the response
        for cell in block["cells"]:
            assert cell["reason"] != "not_computable"  # computed, not caught
            assert cell["suppressed"] or cell["reason"] is None


def test_a_denominator_next_to_zero_gives_an_unbounded_ratio():
    """Once a raise: a summary's estimate of 1e-300 for the earlier period made the ratio
    1e300, its noise weights overflow and the interval search int(NaN)."""
    noise = {"t": (2.0, np.eye(2)[0])}
    after = ratios.Linear(5.0, 5, noise)
    for tiny in (1e-300, 1e-200, 1e-12):
        before = ratios.Linear(tiny, 0, {"t": (2.0, np.eye(2)[1])})
        diff, percent = ratios.change(before, after, 0.95)
        assert percent.value is None and percent.upper is None and percent.lower == -100.0
        assert diff.interval(0.95)[0] < 5 < diff.interval(0.95)[1]
        r = ratios.ratio(after, before, 0.95)
        assert (r.lower, r.upper) == (None, None)
