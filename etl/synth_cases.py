"""Calibrated case attributes for one year of the synthetic export, as codes.

Marginals are allocated exactly (largest remainder) and shuffled, so a year's loaded figures
reproduce the calibration targets; the few published dependencies are kept (MINOR follows
age under 18, GENDER_MINORITY follows gender GM, a city lies in its province, the FIA share
of cyber-harassment cases with a known city).
"""

from __future__ import annotations

import calendar
from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd

from etl import calibration as cal
from schema.codelists import codelists

K = TypeVar("K", bound=Hashable)

TYPES = list(cal.TYPE_BY_GENDER_2024)
DIASPORA = [c for c in codelists()["country"].code_list() if c not in ("PK", "OTHER", "UNK")]
DIASPORA_WEIGHTS = np.array([8 if c in ("GB", "AE", "SA", "US") else 1 for c in DIASPORA], float)


def allocate(total: int, weights: Mapping[K, float]) -> dict[K, int]:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    exact = w / w.sum() * total
    base = np.floor(exact).astype(int)
    order = np.argsort(-(exact - base), kind="stable")
    base[order[: total - base.sum()]] += 1
    return dict(zip(keys, base.tolist(), strict=True))


def _fixed_then_rest(
    total: int, fixed: dict[str, int], weights: dict[str, float]
) -> dict[str, int]:
    rest = {k: v for k, v in weights.items() if k not in fixed}
    out = allocate(total - sum(fixed.values()), rest)
    return {k: fixed.get(k, out.get(k, 0)) for k in weights}


def _spread(rng: np.random.Generator, counts: dict[str, int]) -> np.ndarray:
    values = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
    rng.shuffle(values)
    return values


def _type_gender(year: int, n: int, scale: float) -> dict[tuple[str, str], int]:
    joint = np.array(list(cal.TYPE_BY_GENDER_2024.values()), dtype=float)  # types x (F, M, GMU)
    if year == 2024:
        cells = {(t, g): joint[i, j] for i, t in enumerate(TYPES) for j, g in enumerate("FMX")}
        return allocate(n, cells)
    type_w = dict(zip(TYPES, joint.sum(axis=1), strict=True))
    fixed = {k: round(v * scale) for k, v in cal.TYPE_FIXED.get(year, {}).items()}
    fixed |= {k: round(s * n) for k, s in cal.TYPE_SHARES.get(year, {}).items()}
    if year in cal.CYBER_HARASSMENT_TOTAL:
        ch = round(cal.CYBER_HARASSMENT_TOTAL[year] * scale)
        group = codelists().complaint_group_of()
        is_ch = {t: group[t] == "CYBER_HARASSMENT" for t in TYPES}
        ch_w = sum(w for t, w in type_w.items() if is_ch[t])
        other_w = sum(w for t, w in type_w.items() if not is_ch[t])
        type_w = {
            t: w / ch_w * ch if is_ch[t] else w / other_w * (n - ch) for t, w in type_w.items()
        }
    type_n = _fixed_then_rest(n, fixed, type_w)
    other = joint[:, 2].sum() / joint.sum()
    women = cal.WOMEN_SHARE.get(year, joint[:, 0].sum() / joint.sum())
    target = np.array([women, 1 - women - other, other])
    fitted = joint.copy()
    rows = np.array([type_n[t] for t in TYPES], dtype=float)
    for _ in range(50):  # iterative proportional fitting to the year's marginals
        fitted *= (rows / fitted.sum(axis=1))[:, None]
        fitted *= (target * n / fitted.sum(axis=0))[None, :]
    cells = {(t, g): fitted[i, j] for i, t in enumerate(TYPES) for j, g in enumerate("FMX")}
    return allocate(n, cells)


def _months(year: int, n: int, scale: float) -> dict[str, int]:
    weights = {f"{year}-{m:02d}": float(w) for m, w in enumerate(cal.MONTHS_2024, 1)}
    if year in cal.BUSIEST_MONTH:
        busiest = f"{year}-{cal.BUSIEST_MONTH[year]:02d}"
        weights[busiest] = max(weights.values()) * 1.35
    fixed = {f"{year}-{m:02d}": round(v * scale) for m, v in cal.MONTH_FIXED.get(year, {}).items()}
    return _fixed_then_rest(n, fixed, weights)


def _provinces(year: int, n: int, scale: float) -> dict[str, int]:
    weights = {k: float(v) for k, v in cal.PROVINCE_2024.items()}
    fixed = {k: round(v * scale) for k, v in cal.PROVINCE_FIXED.get(year, {}).items()}
    if year in cal.PUNJAB_SHARE:
        fixed["PB"] = round(cal.PUNJAB_SHARE[year] * n)
    return _fixed_then_rest(n, fixed, weights)


def _ages(year: int, n: int, scale: float) -> dict[str, int]:
    fixed = {"U18": round(cal.U18_FIXED[year] * scale)} if year in cal.U18_FIXED else {}
    return _fixed_then_rest(n, fixed, {k: float(v) for k, v in cal.AGE_2024.items()})


def _cities(rng: np.random.Generator, df: pd.DataFrame) -> np.ndarray:
    lists = codelists()
    city = np.full(len(df), "UNK", dtype=object)
    by_province: dict[str, tuple[list[str], list[str]]] = {}
    for c in lists["city"].codes:
        p = c.attrs.get("province")
        if p:
            with_office, without = by_province.setdefault(p, ([], []))
            (with_office if c.attrs.get("fia_office") else without).append(c.code)
    in_pk = ~df["province"].isin(["XX", "UNK"]).to_numpy()
    has_fia = df["province"].map(lambda p: bool(by_province.get(p, ([], []))[0])).to_numpy()
    for ch in (True, False):
        group = (df["complaint_group"] == "CYBER_HARASSMENT").to_numpy() == ch
        pool = np.flatnonzero(group & in_pk)
        known = round(group.sum() * cal.CITY_KNOWN_SHARE)
        n_fia = round(known * cal.FIA_SHARE_OF_KNOWN)
        fia_pool = np.intersect1d(pool, np.flatnonzero(has_fia))
        fia_rows = rng.choice(fia_pool, size=min(n_fia, len(fia_pool)), replace=False)
        rest = np.setdiff1d(pool, fia_rows)
        other_rows = rng.choice(rest, size=min(known - len(fia_rows), len(rest)), replace=False)
        for rows, in_fia_city in ((fia_rows, True), (other_rows, False)):
            provinces = df["province"].to_numpy()[rows]
            for province in np.unique(provinces):
                with_office, without = by_province[province]
                options = with_office if in_fia_city else [*without, "OTHER"]
                weights = np.array([3.0, *([1.0] * (len(options) - 1))])
                here = rows[provinces == province]
                city[here] = rng.choice(options, size=len(here), p=weights / weights.sum())
    return city


def _vulnerable(rng: np.random.Generator, df: pd.DataFrame, scale: float) -> list[list[str]]:
    groups: list[list[str]] = [[] for _ in range(len(df))]
    for i in np.flatnonzero((df["age_band"] == "U18").to_numpy()):
        groups[i].append("MINOR")
    for i in np.flatnonzero((df["gender"] == "GM").to_numpy()):
        groups[i].append("GENDER_MINORITY")
    free = [i for i in range(len(df)) if not groups[i]]
    rng.shuffle(free)
    at = 0
    for code, count in cal.VULNERABLE_2024.items():
        k = round(count * scale)
        for j in free[at : at + k]:
            groups[j].append(code)
        at += k
    order = codelists()["vulnerable_group"].code_list()
    return [sorted(g, key=order.index) for g in groups]


def _referrals(rng: np.random.Generator, n: int) -> list[list[str]]:
    codes = list(cal.REFERRAL_SHARES)
    p = np.array(list(cal.REFERRAL_SHARES.values())) / (1 - cal.NO_REFERRAL_SHARE)
    out: list[list[str]] = []
    none = rng.random(n) < cal.NO_REFERRAL_SHARE
    draws = rng.random((n, len(codes))) < p
    for i in range(n):
        if none[i]:
            out.append(["NONE"])
            continue
        picked = [c for c, hit in zip(codes, draws[i], strict=True) if hit]
        out.append(picked or [codes[int(rng.integers(len(codes)))]])
    return out


def year_cases(rng: np.random.Generator, year: int, scale: float) -> pd.DataFrame:
    """The kept (post-bound) cases of one year, with a received date each."""
    n = round(cal.YEAR_TOTALS[year] * scale)
    pairs = _type_gender(year, n, scale)
    tg = np.repeat(np.array(list(pairs), dtype=object).reshape(-1, 2), list(pairs.values()), 0)
    rng.shuffle(tg)
    gender = tg[:, 1].copy()
    other = np.flatnonzero(gender == "X")
    n_gm = round(cal.GENDER_MINORITY_2024 / 34 * len(other))
    gm = rng.choice(other, size=n_gm, replace=False)
    gender[other] = "U"
    gender[gm] = "GM"
    df = pd.DataFrame({"complaint_type": tg[:, 0], "gender": gender})
    df["complaint_group"] = df["complaint_type"].map(codelists().complaint_group_of())
    df["month"] = _spread(rng, _months(year, n, scale))
    df["age_band"] = _spread(rng, _ages(year, n, scale))
    df["province"] = _spread(rng, _provinces(year, n, scale))
    df["channel"] = _spread(rng, allocate(n, {k: float(v) for k, v in cal.CHANNEL_2024.items()}))
    df["platform"] = _spread(rng, allocate(n, {k: float(v) for k, v in cal.PLATFORM_2024.items()}))
    df["city"] = _cities(rng, df)
    xx = (df["province"] == "XX").to_numpy()
    country = np.full(n, "PK", dtype=object)
    picks = list(rng.permutation(DIASPORA))[: xx.sum()]
    extra = rng.choice(
        DIASPORA, size=max(0, xx.sum() - len(picks)), p=DIASPORA_WEIGHTS / DIASPORA_WEIGHTS.sum()
    )
    country[xx] = np.array([*picks, *extra], dtype=object)
    df["country"] = country
    df["vulnerable"] = _vulnerable(rng, df, n / cal.YEAR_TOTALS[2024])
    df["referrals"] = _referrals(rng, n)
    days = [rng.integers(1, calendar.monthrange(year, int(m[5:]))[1] + 1) for m in df["month"]]
    df["received"] = pd.to_datetime(
        [f"{m}-{d:02d}" for m, d in zip(df["month"], days, strict=True)], format="%Y-%m-%d"
    )
    return df.drop(columns=["complaint_group", "month"])
