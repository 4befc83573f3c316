"""The annual report in GraphQL: ``annualReport(releaseId, confidence)``, the same figures
and metadata as REST's ``GET /v1/reports/{release_id}`` (``api.summaries.extract``). Reading
it spends nothing (the summary was charged when staff published it) and is audited as a
download ("report_graphql"); a release the caller may not read is not found, and one that is
not an annual-report summary is refused naming ``release_id``.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

import privacy
from api.gql.execution import Context
from api.summaries import extract


def _d(description: str) -> Any:
    return strawberry.field(description=description)


@strawberry.type(description="One figure of the annual report, with its interval.")
class ReportFigure:
    name: str = _d("the figure's stable name, e.g. cases_year")
    label: str = _d("its label in English")
    label_ur: str = _d("its label in Urdu")
    unit: str = _d("count, share (a fraction), change (a fraction: 0.51 is +51%) or countries")
    value: float | None = _d("the figure; null: months the summary does not cover")
    lower: float | None = _d("lower bound at the report's confidence; null: unbounded")
    upper: float | None = _d("upper bound at the report's confidence; null: unbounded")


@strawberry.type(description="The helpline's annual report from one summary, free.")
class AnnualReport:
    release_id: str = _d("the annual-report summary's release id")
    dataset: str = _d("the dataset's slug")
    dataset_version: int = _d("the dataset version summarised")
    year: int = _d("the report's year")
    first_month: str = _d("the first month the summary covers (YYYY-MM)")
    last_month: str = _d("the last month the summary covers (YYYY-MM)")
    epsilon: float = _d("ε charged once, when staff published the summary")
    mechanism: str = _d("the noise mechanism (OpenDP)")
    privacy_unit: str = _d("whose privacy ε protects")
    contribution_bound: int = _d("cases one person may add at most")
    confidence: float = _d("of the intervals")
    simultaneous: bool = _d("true: the confidence holds all figures at once (Bonferroni)")
    released_at: str = _d("when the summary was published (UTC, ISO 8601)")
    interpretation: str = _d("how to read the figures")
    figures: list[ReportFigure] = _d("the fourteen figures, in the report's order")


ReleaseIdArgument = Annotated[
    str, strawberry.argument(description="the annual-report summary's release id")
]
ConfidenceArgument = Annotated[
    float | None,
    strawberry.argument(
        description="of the intervals, above 0.5 and at most 0.999999999; default the "
        "simultaneous level 1 - 0.05/14, at which all fourteen figures hold at once with 95%"
    ),
]


def annual_report(c: Context, release_id: str, confidence: float | None) -> AnnualReport:
    found = extract.of_release(c.session, c.principal, release_id, extract.confidence(confidence))
    extract.downloaded(c.session, c.principal, found, "report_graphql")
    m = found.meta
    return AnnualReport(
        release_id=m["release_id"],
        dataset=m["dataset"],
        dataset_version=m["dataset_version"],
        year=m["year"],
        first_month=m["first_month"],
        last_month=m["last_month"],
        epsilon=privacy.Epsilon.parse(m["epsilon"]).as_float(),
        mechanism=m["mechanism"],
        privacy_unit=m["privacy_unit"],
        contribution_bound=m["contribution_bound"],
        confidence=m["confidence"],
        simultaneous=m["simultaneous"],
        released_at=m["released_at"],
        interpretation=m["interpretation"],
        figures=[ReportFigure(**vars(f)) for f in found.figures],
    )
