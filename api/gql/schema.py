"""The GraphQL schema: thin resolvers over the release service.

Spending happens only in the ``countCases`` mutation (never over GET, which strawberry refuses
for mutations), and at most once per operation. Our own errors reach the client with their
stable ``code`` in ``extensions``; validation errors keep their message; anything else is
masked.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import Info

from api import answers, catalogue, pages, releases
from api.errors import InvalidQuery
from api.gql import reports
from api.gql import types as t
from api.gql.execution import Context, Schema, TypedErrors, spending_fields
from privacy import Epsilon
from schema.access import Release


def _query(q: t.CountQueryInput) -> releases.CountQuery:
    filters: dict[str, list[str]] = {}
    for f in q.filters or []:
        filters.setdefault(f.dimension.value, []).extend(f.values)
    return releases.CountQuery(
        dataset=q.dataset,
        group_by=[d.value for d in q.group_by],
        filters=filters,
        period=(q.period.from_, q.period.to) if q.period else None,
        epsilon=q.epsilon,
        margin_of_error=q.margin_of_error,
        confidence=q.confidence,
        source=None if q.source is None else q.source.value,
        statistic=None if q.statistic is None else _statistic(q.statistic),
    )


def _statistic(s: t.StatisticInput) -> dict[str, str | None]:
    of = None if s.of is None else s.of.value
    return {"kind": s.kind.value, "of": of, "from": s.from_, "to": s.to, "per": s.per}


def _statistic_out(block: dict[str, Any]) -> t.Statistic:
    cells = [
        t.StatisticCell(
            key=[t.CellKey(**k) for k in c["key"]],
            value=c["value"],
            lower=c["lower"],
            upper=c["upper"],
            percent=None if c["percent"] is None else t.Interval(**c["percent"]),
            suppressed=c["suppressed"],
            reason=c["reason"],
        )
        for c in block["cells"]
    ]
    return t.Statistic(
        kind=t.StatisticKind(block["kind"]),
        of=block["of"],
        from_=block["from"],
        to=block["to"],
        per=block["per"],
        months=block["months"],
        confidence=block["confidence"],
        cells=cells,
    )


def _release(
    body: dict[str, Any],
    release: Release,
    cached: bool,
    charged: Epsilon,
    remaining: int | None,
    statistic: dict[str, Any] | None = None,
) -> t.CountRelease:
    cells = [
        t.Cell(
            key=[t.CellKey(**k) for k in c["key"]],
            count=c["count"],
            suppressed=c["suppressed"],
            reason=c["reason"],
            lower=c["lower"],
            upper=c["upper"],
            total=c["total"],
        )
        for c in body["cells"]
    ]
    return t.CountRelease(
        release_id=release.public_id,
        cached=cached,
        epsilon_charged=charged.as_float(),
        budget_remaining=None if remaining is None else Epsilon(remaining).as_float(),
        dataset=body["dataset"],
        dataset_version=body["dataset_version"],
        noise_scale=body["noise_scale"],
        margin_of_error=body["margin_of_error"],
        confidence=body["confidence"],
        threshold=body["threshold"],
        sensitive_threshold=body["sensitive_threshold"],
        mechanism=body["mechanism"],
        interpretation=body["interpretation"],
        cells=cells,
        statistic=None if statistic is None else _statistic_out(statistic),
        derived_from=body.get("derived_from"),
    )


def _datasets(c: Context, limit: int | None, cursor: str | None) -> t.DatasetPage:
    page = pages.parse(limit, cursor, catalogue.DATASET_PARTS)
    found, following = catalogue.datasets(c.session, c.principal, page)
    items = [
        t.DatasetInfo(
            slug=d.slug,
            title=d.title,
            versions=[t.DatasetVersionInfo(**vars(v)) for v in d.versions],
            max_cases_per_person=d.max_cases_per_person,
            max_vulnerable_groups=d.max_values_per_case["vulnerable_group"],
            max_referrals=d.max_values_per_case["referral"],
            max_epsilon_per_query=d.max_epsilon_per_query.as_float(),
            budget_remaining=_float(d.budget_remaining),
        )
        for d in found
    ]
    return t.DatasetPage(items=items, next=following)


def _dimensions(c: Context, dataset: str | None, version: int | None) -> list[t.DimensionInfo]:
    return [
        t.DimensionInfo(
            name=t.Dimension(d.name),
            multi_valued=d.multi_valued,
            codes=[t.CodeInfo(**vars(code)) for code in d.codes],
            time=d.time,
            rollup_of=None if d.rollup_of is None else t.Dimension(d.rollup_of),
        )
        for d in catalogue.dimensions(c.session, c.principal, c.settings, dataset, version)
    ]


def _me(c: Context) -> t.Me:
    me = catalogue.me(c.session, c.principal)
    budgets = [
        t.Budget(
            dataset=b.dataset,
            limit=b.limit.as_float(),
            spent=b.spent.as_float(),
            remaining=b.remaining.as_float(),
        )
        for b in me.budgets
    ]
    return t.Me(id=me.id, name=me.name, organisation=me.organisation, role=me.role, budgets=budgets)


def _float(epsilon: Epsilon | None) -> float | None:
    return None if epsilon is None else epsilon.as_float()


def _estimate(c: Context, query: t.CountQueryInput) -> t.Estimate:
    costed = answers.answer(c.session, c.principal, answers.Estimate(_query(query)), c.settings)
    plan, ahead = costed.prepared.plan, costed.summary
    return t.Estimate(
        epsilon=plan.epsilon.as_float(),
        margin_of_error=plan.margin_of_error,
        cells=plan.cells,
        cached=costed.cached,
        covered=ahead.covered,
        derived_from=ahead.derived_from,
        derived_margin_of_error=ahead.margin_of_error,
        predicted_suppressed=ahead.predicted_suppressed,
        coarser=None
        if ahead.coarser is None
        else [
            t.Proposal(group_by=x.group_by, cells=x.cells, suppressed=x.suppressed)
            for x in ahead.coarser
        ],
        prediction=ahead.note,
    )


def _releases(c: Context, limit: int | None, cursor: str | None) -> t.ReleasePage:
    page = pages.parse(limit, cursor, catalogue.RELEASE_PARTS)
    items, following = catalogue.visible_releases(c.session, c.principal, page)
    summaries = [
        t.ReleaseSummary(
            **vars(r)
            | {
                "epsilon": r.epsilon.as_float(),
                "group_by": [t.Dimension(g) for g in r.group_by],
                "created_at": r.released_at.isoformat(),
            }
        )
        for r in items
    ]
    return t.ReleasePage(items=summaries, next=following)


def _count(c: Context, query: t.CountQueryInput, spending_fields: int) -> t.CountRelease:
    if spending_fields > 1:
        err = InvalidQuery("one countCases per request: each spends privacy budget")
        answers.record_refusal(c.session, c.principal, answers.Count(_query(query)), err)
        raise err
    released = answers.answer(c.session, c.principal, answers.Count(_query(query)), c.settings)
    return _release(
        released.body,
        released.release,
        released.cached,
        released.epsilon_charged,
        released.remaining_micro,
        released.statistic,
    )


@strawberry.type(description="Amaan's catalogue and estimates; none of them spends.")
class Query:
    @t.field("Your account and budgets.")
    async def me(self, info: Info[Context, None]) -> t.Me:
        return await info.context.run(_me, info.context)

    @t.field("The datasets granted to you, by slug, with the budget you have left; a page.")
    async def datasets(
        self,
        info: Info[Context, None],
        limit: t.LimitArgument = None,
        cursor: t.CursorArgument = None,
    ) -> t.DatasetPage:
        return await info.context.run(_datasets, info.context, limit, cursor)

    @t.field("Every dimension with its codes; time codes: the version's declared coverage.")
    async def dimensions(
        self,
        info: Info[Context, None],
        dataset: t.DatasetArgument = None,
        version: t.VersionArgument = None,
    ) -> list[t.DimensionInfo]:
        return await info.context.run(_dimensions, info.context, dataset, version)

    @t.field("What a count query would cost; spends nothing.")
    async def estimate(self, info: Info[Context, None], query: t.QueryArgument) -> t.Estimate:
        return await info.context.run(_estimate, info.context, query)

    @t.field("Releases published to you, then your own, newest first; a page at a time.")
    async def releases(
        self,
        info: Info[Context, None],
        limit: t.LimitArgument = None,
        cursor: t.CursorArgument = None,
    ) -> t.ReleasePage:
        return await info.context.run(_releases, info.context, limit, cursor)

    @t.field("An annual report published to you (or of your dataset), free; audited.")
    async def annual_report(
        self,
        info: Info[Context, None],
        release_id: reports.ReleaseIdArgument,
        confidence: reports.ConfidenceArgument = None,
    ) -> reports.AnnualReport:
        c = info.context
        return await c.run(reports.annual_report, c, release_id, confidence)


@strawberry.type(description="The one operation that spends budget.")
class Mutation:
    @t.mutation("A differentially private count table; spends ε unless cached.")
    async def count_cases(
        self, info: Info[Context, None], query: t.QueryArgument
    ) -> t.CountRelease:
        c = info.context
        return await c.run(_count, c, query, spending_fields(info))


def make_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=6),
            lambda: MaxAliasesLimiter(max_alias_count=5),
            lambda: MaxTokensLimiter(max_token_count=1000),
            TypedErrors,
        ],
    )


schema = make_schema()
