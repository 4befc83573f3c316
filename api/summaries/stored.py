"""A summary as stored (JSON) and as rebuilt (``privacy.derive.Summary``), cached per worker.

Releases are immutable, so a rebuilt summary is cached under its release's public id: the
reconciliation runs once per worker and summary, not once per derived query.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from privacy.derive import Summary
from privacy.layout import Axis
from privacy.questions import Rollup
from privacy.summary import Design, Slice, TableSpec
from schema.access import StoredSummary
from schema.codelists import months_between

CACHED = 16  # summaries a worker keeps rebuilt


def _axis(a: Axis) -> list[Any]:
    return [a.dimension, list(a.codes), sorted(a.sensitive)]


def _from_axis(raw: list[Any]) -> Axis:
    return Axis(str(raw[0]), tuple(raw[1]), frozenset(raw[2]))


def design_json(design: Design, rollups: Sequence[Rollup]) -> str:
    tables = [
        {
            "name": t.name,
            "axes": [_axis(a) for a in t.axes],
            "time": t.time,
            "sensitivity": t.sensitivity,
            "distinct_of": None if t.distinct_of is None else _axis(t.distinct_of),
        }
        for t in design.tables
    ]
    return json.dumps(
        {
            "tables": tables,
            "multi_valued": sorted(design.multi_valued),
            "rollups": [[r.dimension, r.base, list(r.codes), dict(r.parent)] for r in rollups],
        }
    )


def design_of(raw: str) -> tuple[Design, list[Rollup]]:
    spec = json.loads(raw)
    tables = tuple(
        TableSpec(
            t["name"],
            tuple(_from_axis(a) for a in t["axes"]),
            t["time"],
            int(t["sensitivity"]),
            None if t["distinct_of"] is None else _from_axis(t["distinct_of"]),
        )
        for t in spec["tables"]
    )
    rollups = [Rollup(d, b, tuple(c), dict(p)) for d, b, c, p in spec["rollups"]]
    return Design(tables, frozenset(spec["multi_valued"])), rollups


def slices_json(noisy: Mapping[Slice, np.ndarray]) -> str:
    out: dict[str, dict[str, list[int]]] = {}
    for (name, period), cells in sorted(noisy.items()):
        out.setdefault(name, {})[period] = [int(v) for v in cells]
    return json.dumps(out, separators=(",", ":"))


def slices_of(raw: str) -> dict[Slice, np.ndarray]:
    return {
        (name, period): np.asarray(cells, dtype=np.int64)
        for name, periods in json.loads(raw).items()
        for period, cells in periods.items()
    }


def months_of(row: StoredSummary) -> list[str]:
    return months_between(row.first_month, row.last_month)


_cache: OrderedDict[str, Summary] = OrderedDict()
_lock = threading.Lock()


def rebuilt(row: StoredSummary, public_id: str) -> Summary:
    """The summary a stored row rebuilds (reconciled once per worker: releases are immutable,
    and a public id is random, never reused by another database)."""
    with _lock:
        found = _cache.get(public_id)
        if found is not None:
            _cache.move_to_end(public_id)
            return found
    design, rollups = design_of(row.design)
    scales = {k: float(v) for k, v in json.loads(row.scales).items()}
    summary = Summary(design, scales, slices_of(row.slices), months_of(row), rollups)
    with _lock:
        _cache[public_id] = summary
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return summary
