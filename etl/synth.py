"""``amaan synth``: a raw export calibrated to the published figures (DOMAIN.md).

Kept cases come from ``synth_cases``; then people are formed (singles and pairs), repeat
complainants get further cases dated after their first two (the contribution bound cuts
exactly those), identifying columns are filled with fake values, codes are spelled the many
ways a real export spells them, and ``dirty`` rows are corrupted on purpose. Every case has
its own case_ref and consents to share (``yes`` in any case); further cases whose consent is
``no`` or blank are added on top, as the loader refuses them (blank is not consent by
default).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from etl import calibration as cal
from etl.synth_cases import year_cases
from etl.synth_people import Person, make_people
from schema.codelists import codelists

COLUMNS = [
    "case_ref",
    "received_on",
    "contact_key",
    "complainant_name",
    "phone",
    "email",
    "cnic",
    "address",
    "channel",
    "complaint_type",
    "platform",
    "gender",
    "age",
    "city",
    "province",
    "country",
    "vulnerable_groups",
    "referrals",
    "consent_to_share",
    "case_notes",
    "officer",
]
# Cases refused for want of consent, as shares of the kept and cut cases.
CONSENT_NO = 0.03
CONSENT_BLANK = 0.02
# Cases per kept case, measured at scale 1 (the extra ones are cut by the person bound, or
# refused for want of consent).
ROWS_PER_KEPT_CASE = 1.178 * (1 + CONSENT_NO + CONSENT_BLANK)
CONSENT_YES = ["yes", "Yes", "YES"]
AGE_RANGES = {
    "U18": (11, 17),
    "18_30": (18, 30),
    "31_45": (31, 45),
    "46_60": (46, 60),
    "60P": (61, 82),
}
ALT_SPELLINGS = {
    "gender": {
        "F": ["Female", "female", "F", "Women"],
        "M": ["Male", "male", "M"],
        "GM": ["Transgender", "GM", "non-binary"],
        "U": ["U", "Undisclosed", "Prefer not to say"],
    }
}


@dataclass(frozen=True)
class SynthOptions:
    years: tuple[int, int] = (2017, 2024)
    seed: int = 1
    rows: int | None = None
    dirty: int = 0


def parse_years(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    lo, hi = int(first), int(last or first)
    if lo > hi or lo not in cal.YEAR_TOTALS or hi not in cal.YEAR_TOTALS:
        raise ValueError(f"years must lie within {min(cal.YEAR_TOTALS)}-{max(cal.YEAR_TOTALS)}")
    return lo, hi


def _scale(options: SynthOptions) -> float:
    if options.rows is None:
        return 1.0
    kept = sum(cal.YEAR_TOTALS[y] for y in range(options.years[0], options.years[1] + 1))
    return options.rows / (kept * ROWS_PER_KEPT_CASE)


class _Speller:
    """Writes a code the way a person at a helpline might: code, label, any case, alias."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.labels = {
            d.name: {c.code: c.en for c in d.codes} for d in codelists().dimensions.values()
        }

    def __call__(self, dim: str, code: str) -> str:
        if dim in ALT_SPELLINGS:
            options = ALT_SPELLINGS[dim][code]
            return str(options[self.rng.randrange(len(options))])
        if code == "UNK" and dim in ("province", "country", "city"):
            return ""
        label = self.labels[dim][code]
        r = self.rng.random()
        if dim == "city":
            return label if r < 0.6 else (label.upper() if r < 0.8 else label.lower())
        if r < 0.5:
            return code
        return label if r < 0.8 else (label.lower() if r < 0.9 else code.lower())


def _rows_for_year(
    rng: np.random.Generator, pr: random.Random, year: int, scale: float, next_person: int
) -> tuple[list[list[str]], int]:
    kept = year_cases(rng, year, scale)
    people, cases = make_people(rng, pr, kept, year, next_person)
    spell = _Speller(pr)
    rows = []
    dates = cases["received"].dt.strftime("%Y-%m-%d").tolist()
    fields = [
        "person",
        "age_band",
        "channel",
        "complaint_type",
        "platform",
        "gender",
        "city",
        "province",
        "country",
        "vulnerable",
        "referrals",
    ]
    for i, values in enumerate(zip(*(cases[f].tolist() for f in fields), strict=True)):
        case = dict(zip(fields, values, strict=True))
        person: Person = people[int(case["person"])]
        low, high = AGE_RANGES.get(str(case["age_band"]), (0, -1))
        age = str(pr.randint(low, high)) if high >= low else ""
        received = dates[i]
        if pr.random() < 0.2:
            received += f" {pr.randrange(8, 20):02d}:{pr.randrange(60):02d}"
        rows.append(
            [
                f"DSH-{year}-{next_person:05d}-{i:05d}",
                received,
                person.contact(pr),
                person.name,
                person.phone,
                person.email,
                person.cnic,
                person.address,
                spell("channel", case["channel"]),
                spell("complaint_type", case["complaint_type"]),
                spell("platform", case["platform"]),
                spell("gender", case["gender"]),
                age,
                spell("city", case["city"]),
                spell("province", case["province"]),
                spell("country", case["country"]),
                ";".join(spell("vulnerable_group", v) for v in case["vulnerable"]),
                ";".join(spell("referral", r) for r in case["referrals"]),
                CONSENT_YES[pr.randrange(len(CONSENT_YES))],
                person.note(pr),
                person.officer(pr),
            ]
        )
    rows += _refused(pr, rows, f"DSH-{year}-{next_person:05d}")
    order = rng.permutation(len(rows))
    return [rows[i] for i in order], next_person + len(people)


def _refused(pr: random.Random, rows: list[list[str]], prefix: str) -> list[list[str]]:
    """Further cases, like others of the year, whose consent to share is no or blank."""
    at = COLUMNS.index("consent_to_share")
    ref = COLUMNS.index("case_ref")
    extra = []
    for k, consent in enumerate(
        ["no"] * round(CONSENT_NO * len(rows)) + [""] * round(CONSENT_BLANK * len(rows))
    ):
        row = list(rows[pr.randrange(len(rows))])
        row[at] = consent
        row[ref] = f"{prefix}-R{k:05d}"
        extra.append(row)
    return extra


DIRT = [
    ("complaint_type", "blakmail"),
    ("received_on", "2023-02-30"),
    ("received_on", "30/02/2023"),
    ("contact_key", ""),
    ("complaint_type", ""),
    ("gender", ""),
    ("received_on", ""),
    ("age", "-3"),
    ("age", "abc"),
    ("age", "250"),
    ("province", "Atlantis"),
    ("vulnerable_groups", "MINOR;ASTRONAUT"),
    ("country", "Narnia"),
    ("referrals", "NONE;FIA"),
]


def _dirty(rng: random.Random, rows: list[list[str]], n: int, start: int) -> Iterator[list[str]]:
    consent = COLUMNS.index("consent_to_share")
    for k in range(start, start + n):
        row = list(rows[rng.randrange(len(rows))])
        column, value = DIRT[k % len(DIRT)]
        row[COLUMNS.index(column)] = value
        row[COLUMNS.index("case_ref")] = f"DSH-DIRTY-{k:05d}"
        row[consent] = "yes"  # rejected for its dirt, not refused for want of consent
        yield row


def write_export(path: Path, options: SynthOptions) -> int:
    """Write the export; returns the number of data rows written."""
    rng = np.random.default_rng(options.seed)
    # Per-row choices for fake data (not security): numpy is slow one value at a time.
    pr = random.Random(options.seed)  # noqa: S311
    scale = _scale(options)
    years = range(options.years[0], options.years[1] + 1)
    dirty_left = options.dirty
    written = 0
    person_id = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for index, year in enumerate(years):
            rows, person_id = _rows_for_year(rng, pr, year, scale, person_id)
            share = dirty_left if index == len(years) - 1 else round(options.dirty / len(years))
            share = min(share, dirty_left)
            dirty_left -= share
            for bad in _dirty(pr, rows, share, options.dirty - dirty_left - share):
                rows.insert(pr.randrange(len(rows) + 1), bad)
            writer.writerows(rows)
            written += len(rows)
    return written
