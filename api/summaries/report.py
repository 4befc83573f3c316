"""The helpline's annual report from an ``annual-report`` summary: its fourteen figures.

Post-processing of the stored summary (``privacy.derive.Summary``): no new noise, nothing
charged. Each figure has a stable name, English and Urdu labels, a unit (``count``,
``share``, ``change`` or ``countries``), the value shown and an interval at the confidence
asked. The report's shape (names, labels, units, order) depends on the template and the
year only, never on the data; a figure whose months the summary does not cover (the change
from a year before its first) is shown empty, decided from the declared months.

Fourteen intervals at 95% each hold together far less often than 95% (``bench/README.md``,
"Summaries": about two times in three), so the report's default confidence is the
simultaneous (Bonferroni) level ``1 - 0.05 / 14``: all fourteen hold at once with at least
95%. A share or change whose interval cannot be computed on some noisy values is shown
unbounded rather than raising (the computation is total on any data).

"Countries with cases" is not a sum of counts: the number of country codes holding at least
one case in the year, measured as one cell (sensitivity: the cases one person may add) and
shown within its public range, 0 to the number of country codes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from privacy.derive import Summary
from privacy.questions import Question
from privacy.ratios import Linear, Ratio, change, rate, share

FIGURES = 14
SIMULTANEOUS = 1 - 0.05 / FIGURES  # Bonferroni: every figure at once with 95% at least
UNITS = ("count", "share", "change", "countries")
CH: Mapping[str, tuple[str, ...]] = {"complaint_group": ("CYBER_HARASSMENT",)}
NCII: Mapping[str, tuple[str, ...]] = {"complaint_type": ("NCII",)}
IBA: Mapping[str, tuple[str, ...]] = {"complaint_type": ("IBA_OTHER",)}
VG = ("vulnerable_group",)

# name, unit, English label, Urdu label ({year}: the report's year, {before}: the one before).
# The Urdu texts have not been reviewed by a native speaker.
LABELS: tuple[tuple[str, str, str, str], ...] = (
    ("cases_year", "count", "Cases in {year}", "{year} میں کیسز"),
    (
        "cases_since_start",
        "count",
        "Cases since the service began",
        "سروس کے آغاز سے اب تک کیسز",
    ),
    ("monthly_average", "count", "Monthly average, {year}", "ماہانہ اوسط، {year}"),
    ("cyber_harassment", "count", "Cyber-harassment cases", "سائبر ہراسانی کے کیسز"),
    (
        "cyber_harassment_fia_share",
        "share",
        "Share of cyber-harassment cases from cities with an FIA office",
        "سائبر ہراسانی کے کیسز میں ایف آئی اے دفتر والے شہروں کا حصہ",
    ),
    ("women", "count", "Cases involving women", "خواتین سے متعلق کیسز"),
    (
        "women_share_ncii",
        "share",
        "Women's share of non-consensual intimate images (NCII)",
        "بلا اجازت نجی تصاویر (NCII) میں خواتین کا حصہ",
    ),
    (
        "women_share_iba_other",
        "share",
        "Women's share of other image-based abuse",
        "تصاویر پر مبنی دیگر زیادتی میں خواتین کا حصہ",
    ),
    ("minors", "count", "Cases involving minors", "نابالغوں سے متعلق کیسز"),
    (
        "minors_change",
        "change",
        "Change in cases involving minors from {before}",
        "{before} کے مقابلے میں نابالغوں کے کیسز میں تبدیلی",
    ),
    ("journalists", "count", "Journalists", "صحافی"),
    ("human_rights_defenders", "count", "Human-rights defenders", "انسانی حقوق کے محافظ"),
    (
        "religious_ethnic_minorities",
        "count",
        "Religious and ethnic minorities",
        "مذہبی اور نسلی اقلیتیں",
    ),
    ("countries", "countries", "Countries with cases", "کیسز والے ممالک"),
)
NAMES = tuple(name for name, *_ in LABELS)


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    label_ur: str
    unit: str  # count, share (a fraction), change (a fraction: 0.51 is +51%) or countries
    value: float | None  # None: not shown (its months are not covered)
    lower: float | None  # None: unbounded (or not shown)
    upper: float | None


Bounds = tuple[float | None, float | None, float | None]


def months_of(year: int) -> tuple[str, ...]:
    return tuple(f"{year:04d}-{m:02d}" for m in range(1, 13))


def _count(x: Linear, conf: float) -> Bounds:
    lo, hi = x.interval(conf)
    return float(x.shown), lo, hi


def _ratio(r: Ratio) -> Bounds:
    return r.value, r.lower, r.upper


def _guarded(make: Callable[[], Bounds]) -> Bounds:
    """A share's or change's figure; unbounded when its interval cannot be found on these
    noisy values (it never raises, whatever the data)."""
    try:
        value, lo, hi = make()
    except (ArithmeticError, ValueError):
        return None, None, None
    finite = [v if v is None or math.isfinite(v) else None for v in (value, lo, hi)]
    return finite[0], finite[1], finite[2]


def values(s: Summary, year: int, conf: float) -> dict[str, Bounds]:
    """Each figure's (value, lower, upper) from the summary, by name."""
    now = months_of(year)
    covered = set(s.months)

    def cell(
        group: tuple[str, ...],
        key: tuple[str, ...],
        months: tuple[str, ...] = now,
        filters: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Linear:
        return s.figure(Question(group, filters or {}, months), key)

    year_total = cell((), ())
    minors = cell(VG, ("MINOR",))

    def fia() -> Bounds:
        yes = cell(("fia_city",), ("YES",), filters=CH)
        return _ratio(share(yes, yes + cell(("fia_city",), ("NO",), filters=CH), conf))

    def women(filters: Mapping[str, tuple[str, ...]]) -> Callable[[], Bounds]:
        return lambda: _ratio(
            share(cell(("gender",), ("F",), filters=filters), cell((), (), filters=filters), conf)
        )

    def minors_change() -> Bounds:
        before = months_of(year - 1)
        if not set(before) <= covered:  # public: the summary's declared months
            return None, None, None
        _, pct = change(cell(VG, ("MINOR",), before), minors, conf)
        return tuple(None if v is None else v / 100 for v in (pct.value, pct.lower, pct.upper))  # type: ignore[return-value]

    countries = s.distinct("countries", f"{year:04d}")
    spec = s.design.spec("countries")
    most = len(spec.distinct_of.codes) if spec.distinct_of is not None else math.inf
    lo, hi = countries.interval(conf)
    religious = cell(VG, ("RELIGIOUS_MINORITY",)) + cell(VG, ("ETHNIC_MINORITY",))
    return {
        "cases_year": _count(year_total, conf),
        "cases_since_start": _count(s.figure(Question(()), ()), conf),
        "monthly_average": _guarded(lambda: rate(year_total, 12, conf)),
        "cyber_harassment": _count(cell(("complaint_group",), ("CYBER_HARASSMENT",)), conf),
        "cyber_harassment_fia_share": _guarded(fia),
        "women": _count(cell(("gender",), ("F",)), conf),
        "women_share_ncii": _guarded(women(NCII)),
        "women_share_iba_other": _guarded(women(IBA)),
        "minors": _count(minors, conf),
        "minors_change": _guarded(minors_change),
        "journalists": _count(cell(VG, ("JOURNALIST",)), conf),
        "human_rights_defenders": _count(cell(VG, ("HRD",)), conf),
        "religious_ethnic_minorities": _count(religious, conf),
        "countries": (float(countries.shown), max(lo, 0.0), min(hi, most)),
    }


def figures(s: Summary, year: int, conf: float = SIMULTANEOUS) -> list[Figure]:
    """The report's fourteen figures, in the report's order."""
    found = values(s, year, conf)
    return [
        Figure(
            name,
            label.format(year=year, before=year - 1),
            label_ur.format(year=year, before=year - 1),
            unit,
            *found[name],
        )
        for name, unit, label, label_ur in LABELS
    ]


def consistency(s: Summary, year: int) -> list[tuple[str, bool]]:
    """Equalities that must hold exactly between the shown numbers of the report's year."""
    now = months_of(year)
    total = int(s.answer(Question((), months=now)).shown[0])
    by = {
        d: int(s.answer(Question((d,), months=now)).shown.sum())
        for d in ("month", "quarter", "gender", "complaint_type", "complaint_group", "fia_city")
    }
    since = int(s.answer(Question(())).shown[0])
    years = int(s.answer(Question(("year",))).shown.sum())
    ch = int(s.answer(Question(("fia_city",), CH, now)).shown.sum())
    groups = s.answer(Question(("complaint_group",), {}, now))
    ch_total = int(groups.shown[groups.keys.index(("CYBER_HARASSMENT",))])
    shown = {f.name: f.value for f in figures(s, year)}
    checks = [(f"{year} total = sum over {d}", v == total) for d, v in by.items()]
    return [
        *checks,
        ("since the first month = sum of the years", years == since),
        ("cyber-harassment = sum over FIA city", ch == ch_total),
        ("figure: cases in the year = the total", shown["cases_year"] == total),
        ("figure: since the start = the total", shown["cases_since_start"] == since),
        ("figure: monthly average = the year / 12", shown["monthly_average"] == total / 12),
        ("figure: cyber-harassment = its group", shown["cyber_harassment"] == ch_total),
    ]
