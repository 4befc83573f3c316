"""A small synthetic population of cases for the summary tests, and its true slices."""

from __future__ import annotations

from itertools import product

import numpy as np

from privacy.layout import Axis
from privacy.questions import Rollup
from privacy.summary import MONTH, Design, TableSpec

GENDER = Axis("gender", ("F", "M", "GM", "U"), frozenset({"GM"}))
TYPE = Axis("complaint_type", ("BLACKMAIL", "NCII", "HACKING", "FIN_FRAUD"))
PROVINCE = Axis("province", ("PB", "SD", "KP"))
GROUP = Axis("vulnerable_group", ("MINOR", "JOURNALIST", "HRD"), frozenset({"MINOR"}))
COUNTRY = Axis("country", ("PK", "GB", "AE", "US", "SA"))
MONTHS = tuple(f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13))
GROUP_OF = {"BLACKMAIL": "CH", "NCII": "CH", "HACKING": "CH", "FIN_FRAUD": "OTHER"}
ROLLUPS = [Rollup("complaint_group", "complaint_type", ("CH", "OTHER"), GROUP_OF)]
WEIGHTS = {
    GENDER.dimension: [0.56, 0.42, 0.01, 0.01],
    TYPE.dimension: [0.35, 0.25, 0.25, 0.15],
    PROVINCE.dimension: [0.7, 0.2, 0.1],
    COUNTRY.dimension: [0.96, 0.02, 0.01, 0.01, 0.0],
}


def design() -> Design:
    return Design(
        (
            TableSpec("gender_type", (GENDER, TYPE), "year", 2),
            TableSpec("month", (), "month", 2),
            TableSpec("type_province", (TYPE, PROVINCE), "year", 2),
            TableSpec("groups", (GROUP,), "year", 4),
            TableSpec("countries", (), "year", 2, distinct_of=COUNTRY),
        ),
        frozenset({"vulnerable_group"}),
    )


def cases(n: int = 6000, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {d: rng.choice(len(w), size=n, p=w) for d, w in WEIGHTS.items()}
    out[MONTH] = rng.integers(0, len(MONTHS), size=n)
    out[GROUP.dimension] = (rng.random((n, 3)) < [0.05, 0.04, 0.02]).astype(int)
    return out


def true_slices(data: dict[str, np.ndarray], spec_design: Design) -> dict:
    """Row-major true cells of every slice (a multi-valued axis counts each value held)."""
    out = {}
    months = np.array(MONTHS)[data[MONTH]]
    for t in spec_design.tables:
        periods = MONTHS if t.time == MONTH else ("2023", "2024")
        for period in periods:
            held = months == period if t.time == MONTH else np.char.startswith(months, period)
            if t.distinct_of is not None:
                codes = data[t.distinct_of.dimension][held]
                out[(t.name, period)] = np.array([len(np.unique(codes))])
                continue
            grid = np.zeros([len(a.codes) for a in t.axes], dtype=np.int64)
            for i in np.flatnonzero(held):
                index = []
                for a in t.axes:
                    if a.dimension == GROUP.dimension:
                        index.append(np.flatnonzero(data[a.dimension][i]))
                    else:
                        index.append([data[a.dimension][i]])
                for cell in product(*index):
                    grid[cell] += 1
            out[(t.name, period)] = grid.reshape(-1)
    return out
