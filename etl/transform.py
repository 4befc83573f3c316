"""Validate and generalise one chunk of raw records into case rows for staging.

A raw export repeats a small number of distinct spellings (codes, labels, dates, lists), so
every column is decided once per distinct value and broadcast back to the rows. A case leaves
as five integers: its record number, its 64-bit pseudonym, its day, its packed dimension
values (``schema.facts``) and the 64-bit keyed hash of its case reference (0 without one).

A case whose consent to share is refused (``no``, or blank where blank does not count) is
counted and dropped without validating the rest: it is never loaded, so there is nothing to
fix in it.

A rejected row is reported by record number, column and reason only: no value from the file
is ever repeated, since a shifted column can put a phone number where a code should be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from etl.codes import CodeBook
from etl.decide import BLANK, Decision, age, city, code, country, date_parts, multi, received_on
from etl.pseudonym import case_ref_hashes, pseudonymise
from etl.reader import Chunk
from schema.facts import decode, encode

BLANK_AS = {"channel": "OTHER", "platform": "NONE_UNK", "province": "UNK", "country": "UNK"}
STAGED_COLUMNS = ["seq", "pseudonym", "day", "combo", "ref"]


@dataclass(frozen=True)
class Limits:
    """The most values one case keeps per multi-valued dimension."""

    vulnerable_group: int
    referral: int


@dataclass(frozen=True)
class Rules:
    """What a batch declared: its period, as month indexes, and how it reads consent."""

    months: tuple[int, int] | None = None  # first and last month index, inclusive
    blank_is_consent: bool = False
    case_refs: bool = True  # whether the export has case_ref (then required on every row)


@dataclass
class Transformed:
    cases: dict[str, np.ndarray]  # STAGED_COLUMNS, one int64 array each
    rejects: pd.DataFrame  # row, column, reason
    values_cut: int
    consent_refused: int = 0

    def __len__(self) -> int:
        return len(self.cases["seq"])

    def rows(self) -> list[dict[str, object]]:
        """The cases as readable fact columns (for tests and debugging)."""
        decoded = decode(self.cases["combo"])
        return [{k: v[i] for k, v in decoded.items()} for i in range(len(self))]


def _decide(
    values: Sequence[str], decide: Callable[[str], Decision]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``decide`` once per distinct value; return loaded values and reasons per row.

    The reasons are ``None`` when every row passed (the common case).
    """
    memo = {u: decide(u) for u in set(values)}
    loaded = np.empty(len(values), dtype=object)
    loaded[:] = [memo[v][0] for v in values]
    if all(d[1] is None for d in memo.values()):
        return loaded, None
    reasons = np.empty(len(values), dtype=object)
    reasons[:] = [memo[v][1] for v in values]
    return loaded, reasons


def _refused_consent(
    values: Sequence[str], blank_is_consent: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose consent to share is refused, and rows whose consent value is not valid."""
    outcome = {"yes": 0, "no": 1, "": 0 if blank_is_consent else 1}  # 1: refused, 2: invalid
    memo = {v: outcome.get(v.strip().casefold(), 2) for v in set(values)}
    decided = np.array([memo[v] for v in values], dtype=np.int8)
    return decided == 1, decided == 2


def _blank(rows: np.ndarray, values: Sequence[str], column: str) -> pd.DataFrame | None:
    blank = np.array([not v.strip() for v in values], dtype=bool)
    if not blank.any():
        return None
    return pd.DataFrame({"row": rows[blank], "column": column, "reason": BLANK})


def transform_chunk(
    chunk: Chunk,
    book: CodeBook,
    key: bytes,
    limits: Limits,
    today: date | None = None,
    rules: Rules | None = None,
) -> Transformed:
    rules = rules or Rules()
    cols = chunk.columns
    rows = np.arange(chunk.first_row, chunk.first_row + chunk.size)
    decisions: dict[str, Callable[[str], Decision]] = {
        "received_on": received_on(today or date.today(), rules.months),
        "age": age,
        "city": city(book.lookup("city")),
        "country": country(book.lookup("country")),
        "vulnerable_groups": multi(
            "vulnerable_group", book.lookup("vulnerable_group"), limits.vulnerable_group
        ),
        "referrals": multi("referral", book.lookup("referral"), limits.referral),
    }
    for dim in ("complaint_type", "gender", "channel", "platform", "province"):
        decisions[dim] = code(dim, book.lookup(dim), BLANK_AS.get(dim))
    loaded: dict[str, np.ndarray] = {}
    problems: list[pd.DataFrame] = []
    bad = np.isin(rows, chunk.bad_rows)
    if bad.any():
        problems.append(
            pd.DataFrame(
                {"row": rows[bad], "column": "*", "reason": "wrong number of fields for the header"}
            )
        )
    refused, invalid = _refused_consent(cols["consent_to_share"], rules.blank_is_consent)
    refused &= ~bad  # a record with the wrong number of fields has no consent to read
    if invalid.any():
        reason = "not yes, no or blank"
        problems.append(
            pd.DataFrame({"row": rows[invalid], "column": "consent_to_share", "reason": reason})
        )
        bad |= invalid
    for column in ("contact_key", "case_ref") if rules.case_refs else ("contact_key",):
        blanks = _blank(rows, cols[column], column)
        if blanks is not None:
            problems.append(blanks)
            bad[blanks["row"].to_numpy() - chunk.first_row] = True
    inputs = {**cols, "received_on": date_parts(cols["received_on"])}
    for column, decide in decisions.items():
        values, reasons = _decide(inputs[column], decide)
        if reasons is not None:
            failed = reasons != None  # noqa: E711 (elementwise over an object array)
            problems.append(
                pd.DataFrame({"row": rows[failed], "column": column, "reason": reasons[failed]})
            )
            bad |= failed
        loaded[column] = values
    # A refused case is counted, not rejected: nothing in it needs fixing.
    problems = [p[~refused[p["row"].to_numpy() - chunk.first_row]] for p in problems]
    good = ~bad & ~refused
    refs = cols["case_ref"] if rules.case_refs else None
    t = _assemble(rows, good, loaded, cols["contact_key"], refs, key, problems)
    t.consent_refused = int(refused.sum())
    return t


def _assemble(
    rows: np.ndarray,
    good: np.ndarray,
    loaded: dict[str, np.ndarray],
    contacts: Sequence[str],
    refs: Sequence[str] | None,
    key: bytes,
    problems: list[pd.DataFrame],
) -> Transformed:
    def ints(column: str, part: int | None = None) -> np.ndarray:
        kept = loaded[column][good]
        if part is not None:
            kept = np.array([v[part] for v in kept], dtype=object)
        out: np.ndarray = kept.astype(np.int64)
        return out

    packed = {
        "month": ints("received_on", 1),
        "age_band": ints("age"),
        "vulnerable_group": ints("vulnerable_groups", 0),
        "referral": ints("referrals", 0),
    }
    for dim in ("complaint_type", "gender", "province", "city", "channel", "platform", "country"):
        packed[dim] = ints(dim)
    cases = {
        "seq": rows[good].astype(np.int64),
        "pseudonym": np.array(
            pseudonymise([c for c, ok in zip(contacts, good, strict=True) if ok], key),
            dtype=np.int64,
        ),
        "day": ints("received_on", 0),
        "combo": encode(packed),
        "ref": (
            np.array(case_ref_hashes([r for r, ok in zip(refs, good, strict=True) if ok], key))
            if refs is not None
            else np.zeros(int(good.sum()))
        ).astype(np.int64),
    }
    values_cut = int(ints("vulnerable_groups", 1).sum() + ints("referrals", 1).sum())
    rejects = (
        pd.concat(problems, ignore_index=True).sort_values("row", kind="stable")
        if problems
        else pd.DataFrame({"row": [], "column": [], "reason": []})
    )
    return Transformed(cases, rejects, values_cut)
