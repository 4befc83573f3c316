"""The summary templates the service publishes: named designs built from public metadata only.

A template's tables, axes and codes come from the declared code lists, its sensitivities
from the dataset's declared contribution bounds, its sensitive values from the settings;
nothing is observed from the data. The budget split across its tables is
``privacy.split.optimised`` for the template's target figures (measured in
``bench/README.md``, "Summaries"); it depends on the design only, not on ε (every variance
scales by 1/ε²), so it is computed once per design.

- ``default``: a general-purpose summary: gender × complaint type by month, age × gender,
  province × type, channel × platform, vulnerable group × gender, referral, by year.
- ``annual-report``: every figure of the helpline's annual report (DOMAIN.md) from four
  tables and one count of countries with cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import privacy
from api.errors import InvalidQuery
from privacy.layout import Axis
from privacy.questions import Rollup
from privacy.split import Target, optimised
from privacy.summary import Design, TableSpec
from schema.codelists import codelists

TEMPLATES = ("default", "annual-report")
MAX_CELLS = 200_000  # noisy cells a summary may measure (the default design over 8 years: 6,232)
COUNTRIES_SHARE = 0.1  # of ε, for the count of countries (no marginal target measures it)

DEFAULT_TARGETS: list[Target] = [
    ((), 1.0),
    (("gender",), 1.0),
    (("complaint_type",), 1.0),
    (("month",), 1.0),
    (("gender", "complaint_type"), 1.0),
    (("age_band", "gender"), 1.0),
    (("province", "complaint_type"), 1.0),
    (("channel", "platform"), 1.0),
    (("vulnerable_group", "gender"), 1.0),
    (("referral",), 1.0),
    (("gender", "complaint_type", "month"), 1.0),
]
REPORT_TARGETS: list[Target] = [
    ((), 4.0),
    (("gender",), 1.0),
    (("gender", "complaint_type"), 2.0),
    (("complaint_type", "fia_city"), 1.0),
    (("vulnerable_group",), 4.0),
    (("month",), 0.2),
]


def axis(dim: str, sensitive: Mapping[str, frozenset[str]]) -> Axis:
    return Axis(dim, tuple(codelists()[dim].code_list()), sensitive.get(dim, frozenset()))


def rollups() -> list[Rollup]:
    lists = codelists()
    return [
        Rollup(
            "complaint_group",
            "complaint_type",
            tuple(lists["complaint_group"].code_list()),
            lists.complaint_group_of(),
        ),
        Rollup("fia_city", "city", tuple(lists["fia_city"].code_list()), lists.fia_city_of()),
    ]


def check(template: str) -> str:
    if template not in TEMPLATES:
        raise InvalidQuery(
            f"no summary template {template[:40]!r}", field="template", valid=list(TEMPLATES)
        )
    return template


def design(
    template: str,
    cases: int,
    values: Mapping[str, int],
    sensitive: Mapping[str, frozenset[str]],
) -> Design:
    """The template's design for a dataset that bounds each person to ``cases`` cases and
    each case to ``values[d]`` values of a multi-valued dimension ``d``."""
    check(template)

    def a(dim: str) -> Axis:
        return axis(dim, sensitive)

    def s(*dims: str) -> int:
        return privacy.l1_sensitivity(cases, values, dims)

    if template == "annual-report":
        return Design(
            (
                TableSpec("gender_type", (a("gender"), a("complaint_type")), "year", s()),
                TableSpec("type_fia", (a("complaint_type"), a("fia_city")), "year", s()),
                TableSpec("month", (), "month", s()),
                TableSpec("vulnerable", (a("vulnerable_group"),), "year", s("vulnerable_group")),
                TableSpec("countries", (), "year", s(), distinct_of=a("country")),
            ),
            frozenset({"vulnerable_group"}),
        )
    vg = s("vulnerable_group")
    return Design(
        (
            TableSpec("gender_type_month", (a("gender"), a("complaint_type")), "month", s()),
            TableSpec("age_gender", (a("age_band"), a("gender")), "year", s()),
            TableSpec("province_type", (a("province"), a("complaint_type")), "year", s()),
            TableSpec("channel_platform", (a("channel"), a("platform")), "year", s()),
            TableSpec("vulnerable_gender", (a("vulnerable_group"), a("gender")), "year", vg),
            TableSpec("referral", (a("referral"),), "year", s("referral")),
        ),
        frozenset({"vulnerable_group", "referral"}),
    )


def weights(template: str, d: Design) -> dict[str, float]:
    """The template's budget split over the tables of ``d`` (design only, cached)."""
    return dict(_weights(template, d))


@cache
def _weights(template: str, d: Design) -> tuple[tuple[str, float], ...]:
    if template == "annual-report":
        found = optimised(d, 1.0, REPORT_TARGETS, fixed={"countries": COUNTRIES_SHARE})
    else:
        found = optimised(d, 1.0, DEFAULT_TARGETS)
    return tuple(found.items())
