"""The calibrated demo data as the summary service would read it, and summary designs.

``amaan demo``'s export (``etl.synth``, 2017 to 2024, seed 1, 40 dirty rows) is loaded into
a scratch SQLite warehouse in ``bench/out`` by the real loader; the fact table is decoded
with pandas and the true marginal slices of a design computed from it. This is the only
place that sees true counts, and it is a benchmark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.summaries import templates
from etl.coverage import Coverage
from etl.load import LoadOptions, load_file
from etl.synth import SynthOptions, write_export
from privacy.layout import Axis
from privacy.questions import Rollup
from privacy.summary import MONTH, Design, Slice
from schema import facts
from schema.codelists import codelists
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import CaseCount
from schema.settings import DEMO_PSEUDONYM_KEY

OUT = Path(__file__).resolve().parent / "out"
MONTHS = tuple(f"{y}-{m:02d}" for y in range(2017, 2025) for m in range(1, 13))
SENSITIVE = {"age_band": {"U18"}, "gender": {"GM"}}
BOUND = 2  # max_cases_per_person, as amaan demo loads
LIMITS = {"vulnerable_group": 2, "referral": 3}


def facts_frame() -> pd.DataFrame:
    """One row per fact (packed combination) with its decoded codes and ``cases``."""
    OUT.mkdir(exist_ok=True)
    cached = OUT / "summary-facts.pkl"
    if cached.exists():
        return pd.read_pickle(cached)
    export = OUT / "helpline-export-2017-2024-seed1.csv"
    if not export.exists():
        write_export(export, SynthOptions(seed=1, dirty=40))
    db = OUT / "summaries.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    try:
        options = LoadOptions(
            dataset="helpline-cases",
            pseudonym_key=DEMO_PSEUDONYM_KEY.encode(),
            covers=Coverage(MONTHS[0], MONTHS[-1]),  # as amaan demo declares it
            max_cases_per_person=BOUND,
        )
        load_file(export, engine, options)
        with Session(engine) as s:
            rows = s.execute(select(CaseCount.combo, CaseCount.cases)).all()
    finally:
        engine.dispose()
    combo = np.array([r[0] for r in rows], dtype=np.int64)
    frame = pd.DataFrame({k: v for k, v in facts.decode(combo).items()})
    frame["cases"] = [r[1] for r in rows]
    frame.to_pickle(cached)
    return frame


def axis(dim: str) -> Axis:
    codes = tuple(codelists()[dim].code_list())
    sensitive = SENSITIVE.get(dim, set(codes) if dim == "vulnerable_group" else set())
    return Axis(dim, codes, frozenset(sensitive))


def rollups() -> list[Rollup]:
    return templates.rollups()


def _exploded(frame: pd.DataFrame, dim: str) -> pd.DataFrame:
    """A multi-valued mask column as one row per value held."""
    codes = codelists()[dim].code_list()
    parts = []
    for i, code in enumerate(codes):
        mask = frame[dim].to_numpy().astype(np.int64)
        held = frame[((mask >> i) & 1) == 1].copy()
        held[dim] = code
        parts.append(held)
    return pd.concat(parts, ignore_index=True)


def true_slices(frame: pd.DataFrame, design: Design) -> dict[Slice, np.ndarray]:
    out: dict[Slice, np.ndarray] = {}
    for t in design.tables:
        data = frame
        for a in t.axes:
            if a.dimension in design.multi_valued:
                data = _exploded(data, a.dimension)
        if t.distinct_of is not None:
            d = t.distinct_of.dimension
            for year, part in data.groupby("year"):
                out[(t.name, str(year))] = np.array([part.loc[part.cases > 0, d].nunique()])
            continue
        dims = [a.dimension for a in t.axes]
        key = MONTH if t.time == MONTH else "year"
        periods = MONTHS if t.time == MONTH else sorted({m[:4] for m in MONTHS})
        grouped = data.groupby([key, *dims])["cases"].sum()
        if dims:
            grid = pd.MultiIndex.from_product([list(periods), *[list(a.codes) for a in t.axes]])
            counts = grouped.reindex(grid, fill_value=0)
        else:
            counts = grouped.reindex(list(periods), fill_value=0)
        values = counts.to_numpy().reshape(len(periods), -1)
        for period, row in zip(periods, values, strict=True):
            out[(t.name, period)] = row.astype(np.int64)
    return out


def _design(template: str) -> Design:
    sensitive = {d: axis(d).sensitive for d in ("age_band", "gender", "vulnerable_group")}
    return templates.design(template, BOUND, LIMITS, sensitive)


def annual_report_design() -> Design:
    """Every figure of the annual report (DOMAIN.md): the service's template."""
    return _design("annual-report")


def default_design() -> Design:
    """A general-purpose summary: the service's default template."""
    return _design("default")
