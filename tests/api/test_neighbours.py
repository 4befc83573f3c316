"""The neighbour test: two warehouses that differ by one person answer every request alike.

The same generated corpus of requests (every dimension and pair of dimensions, filters that
match none, one or many cases, periods at, inside and beyond the declared coverage, every
refusal path, extreme and non-ASCII inputs, REST, CSV, GraphQL, estimates, publications,
downloads and the catalogue, then random queries from hypothesis) runs in the same order
against both, with the noise replaced by a fixed function. Status, error codes and messages,
headers, keys and shape of every body, the audit log, the ledger and the budgets must be
identical; only the noisy numbers of released tables may differ.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy import plan as planning
from schema.codelists import codelists
from schema.models import DIMENSIONS
from tests.api.neighbours import PERSON as ROWS
from tests.api.neighbours import build, difference, normalise, records

EPSILON = 0.001
PERSON = [  # (dimension, value): each value one of the person's cases holds
    ("gender", "GM"),
    ("age_band", "U18"),
    ("province", "GB"),
    ("city", "SKARDU"),
    ("platform", "TELEGRAM"),
    ("complaint_type", "HATE_DISINFO"),
    ("vulnerable_group", "RELIGIOUS_MINORITY"),
    ("referral", "PSYCHOSOCIAL"),
    ("month", "2025-01"),
    ("quarter", "2025-Q1"),
    ("year", "2025"),
]
PERIODS = [
    {"from": "2024-01", "to": "2025-01"},
    {"from": "2025-01"},
    {"to": "2024-12"},
    {"from": "2025-01", "to": "2025-01"},
    {"from": "2024-06", "to": "2024-06"},
    {"from": "2025-02"},
    {"to": "2025-02"},
    {"from": "2023-12"},
    {"from": "2030-01"},
    {"from": "2025-01", "to": "2024-01"},
]
JUNK = ["", " ", "ＧＭ", "gm", "GM ", "٢٠٢٥-01", "x" * 200, "'; DROP TABLE releases; --"]


class Fixed:
    """The noise replaced by a fixed function, with the Laplace privacy map kept."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, counts: list[int]) -> list[int]:
        return [c + 1 for c in counts]

    def map(self, d_in: int) -> float:
        return d_in / self.scale


def query(group_by: list[str], filters=(), period=None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"dataset": "helpline-cases", "group_by": group_by, "epsilon": EPSILON}
    body["filters"] = [{"dimension": d, "values": v} for d, v in filters]
    if period is not None:
        body["period"] = period
    return body | extra


def as_graphql(body: dict[str, Any]) -> dict[str, Any]:
    names = {"group_by": "groupBy", "margin_of_error": "marginOfError"}
    out = {names.get(k, k): v for k, v in body.items()}
    out["groupBy"] = [g.upper() for g in body["group_by"]]
    if isinstance(body.get("source"), str):
        out["source"] = body["source"].upper()
    out["filters"] = [
        {"dimension": f["dimension"].upper(), "values": f["values"]} for f in body["filters"]
    ]
    if isinstance(body.get("statistic"), dict):
        stat = dict(body["statistic"])
        stat["kind"] = str(stat["kind"]).upper()
        if "of" in stat:
            stat["of"] = str(stat["of"]).upper()
        out["statistic"] = stat
    return out


COUNT = """mutation ($q: CountQueryInput!) { countCases(query: $q) { releaseId cached
  epsilonCharged budgetRemaining noiseScale marginOfError confidence
  cells { key { dimension code label labelUr } count lower upper suppressed reason total } } }"""
STATISTIC = """mutation ($q: CountQueryInput!) { countCases(query: $q) { releaseId cached
  cells { count } statistic { kind of from to per months confidence
    cells { key { dimension code } value lower upper percent { value lower upper }
      suppressed reason } } } }"""
ESTIMATE = (
    "query ($q: CountQueryInput!) { estimate(query: $q) { epsilon marginOfError cells cached } }"
)
CATALOGUE = """{ me { id role budgets { dataset limit spent remaining } }
  datasets { items { slug versions { number firstMonth lastMonth } budgetRemaining } next }
  page: datasets(limit: 1) { items { slug } next }
  dimensions { name time codes { code label } } v1: dimensions(dataset: "helpline-cases",
  version: 1) { name codes { code } }
  releases { items { releaseId kind epsilon groupBy failed } next } }"""


def asks_for(body: dict[str, Any], role: str = "researcher") -> list[tuple]:
    """One query through every interface that answers it."""
    q = as_graphql(body) if all(isinstance(g, str) for g in body.get("group_by", [])) else body
    gql = {"query": COUNT, "variables": {"q": q}}
    return [
        (role, "POST", "/v1/queries/estimate", {"json": body}),
        (role, "POST", "/v1/queries", {"json": body}),
        (role, "POST", "/v1/queries", {"json": body, "params": {"format": "csv"}}),
        (role, "POST", "/v1/queries", {"json": body, "params": {"format": "xlsx"}}),
        (role, "POST", "/graphql", {"json": {"query": ESTIMATE, "variables": {"q": q}}}),
        (role, "POST", "/graphql", {"json": gql}),
    ]


def corpus() -> list[tuple]:
    out: list[tuple] = []
    dims = list(DIMENSIONS)
    for d in dims:
        out += asks_for(query([d]))
    columns = {"layout": "columns"}
    for a, b in combinations(dims, 2):  # new in columns, then cached in rows and columns
        out.append(
            ("researcher", "POST", "/v1/queries", {"json": query([a, b]), "params": columns})
        )
        out.append(("researcher", "POST", "/v1/queries", {"json": query([a, b])}))
    out.append(("researcher", "POST", "/v1/queries", {"json": query(dims[:2]), "params": columns}))
    for params in ({"layout": "columns", "format": "csv"}, {"layout": "diagonal"}):
        out.append(
            ("researcher", "POST", "/v1/queries", {"json": query(["gender"]), "params": params})
        )
    for d, v in PERSON:
        out += asks_for(query([], [(d, [v])]))
        out += asks_for(query(["gender"], [(d, [v])], confidence=0.9))
        out.append(("budgeted_partner", "POST", "/v1/queries", {"json": query([d], [(d, [v])])}))
    lists = codelists().dimensions
    for d, v in PERSON:  # the same filters by English label, in another letter case
        if d in lists:
            label = next(c.en for c in lists[d].codes if c.code == v)
            out += asks_for(query([], [(d, [label.upper()])]))
    profile = [(d, [v]) for d, v in PERSON if d not in ("quarter", "year")]
    out += asks_for(query([], profile))
    out += asks_for(query(["vulnerable_group", "referral"], profile[:3]))
    for period in PERIODS:
        out += asks_for(query(["month"], period=period))
        out += asks_for(query([], [("gender", ["GM"])], period=period))
    statistics = [
        query(["gender", "year"], statistic={"kind": "share", "of": "gender"}),
        query(["gender", "province"], statistic={"kind": "share", "of": "province"}),
        query(
            ["month", "gender"], statistic={"kind": "change", "from": "2024-12", "to": "2025-01"}
        ),
        query(["year"], statistic={"kind": "change", "from": "2024", "to": "2025"}),
        query(
            ["quarter", "age_band"],
            statistic={"kind": "change", "from": "2024-Q4", "to": "2025-Q1"},
        ),
        query(["province"], statistic={"kind": "rate", "per": "month"}),
        query(
            ["month", "gender"],
            period={"from": "2024-07"},
            statistic={"kind": "rate", "per": "month"},
        ),
    ]
    for body in statistics:
        out += asks_for(body)
        gql = {"query": STATISTIC, "variables": {"q": as_graphql(body)}}
        out.append(("researcher", "POST", "/graphql", {"json": gql}))
    refusals = [
        query(["gender"], statistic={"kind": "share", "of": "year"}),
        query(["gender"], statistic={"kind": "rate", "per": "week"}),
        query(["month"], statistic={"kind": "change", "from": "2024", "to": "2025"}),
        query(["month"], statistic={"kind": "median"}),
        query(["religion"]),
        query(["gender"], [("gender", ["X"])]),
        query(["gender", "year", "channel", "platform"]),
        query(["month", "city", "country"]),
        query(["gender"], epsilon=0.6),
        query(["gender"], epsilon=0),
        query(["gender"], epsilon=-1),
        query(["gender"], epsilon=None, margin_of_error=1),
        query(["gender"], epsilon=None, margin_of_error=1e19),
        query(["gender"], epsilon=None),
        query(["gender"], confidence=0),
        query(["gender"], confidence=0.3),
        query(["gender"], epsilon="0.1"),
        query(["gender"], dataset="no-such-dataset"),
        query(["gender"], [("month", ["2023-05"])]),
        query(["gender"], unexpected=1),
        *(query([j]) for j in JUNK),
        *(query(["gender"], [("gender", [j])]) for j in JUNK),
        *(query(["gender"], period={"from": j}) for j in JUNK),
    ]
    for body in refusals:
        out += asks_for(body)
    for role in ("partner", "stranger", "admin"):
        out.append((role, "POST", "/v1/queries", {"json": query(["gender"])}))
    for i, d in enumerate(dims * 3):  # a small budget runs out
        out.append(
            (
                "frugal",
                "POST",
                "/v1/queries",
                {"json": query([d], [("gender", [["F", "M", "GM"][i % 3]])])},
            )
        )
    out += summaries(dims, profile)
    for filters, rounding, margins in (
        ((), 5, True),
        (profile[:2], 5, False),
        ([PERSON[8]], 1, True),
    ):
        extract = {
            "title": "E",
            "description": "",
            "query": query(["gender", "age_band"], [(d, v) for d, v in filters]),
            "audience": ["all-partners"],
            "rounding": rounding,
            "margins": margins,
        }
        out.append(("admin", "POST", "/v1/admin/releases", {"json": extract}))
    out.append(("admin", "POST", "/v1/admin/releases/1/republish", {}))
    for i in range(0, 40, 3):
        for role in ("researcher", "partner", "admin"):
            out.append((role, "GET", f"/v1/releases/{{{i}}}", {}))
            for params in (
                {"format": "csv"},
                {"format": "csv", "about": "1"},
                {"format": "xlsx"},
                {"layout": "columns"},
            ):
                out.append((role, "GET", f"/v1/releases/{{{i}}}", {"params": params}))
            out.append((role, "GET", f"/v1/releases/{{{i}}}/metadata", {}))
    for role in ("researcher", "partner", "budgeted_partner", "admin", "stranger", None):
        for path in ("/v1/datasets", "/v1/dimensions", "/v1/me", "/v1/releases"):
            out.append((role, "GET", path, {}))
        for version in ("1", "2"):  # time codes of the declared coverage; no such version
            params = {"dataset": "helpline-cases", "version": version}
            out.append((role, "GET", "/v1/dimensions", {"params": params}))
        out.append((role, "POST", "/graphql", {"json": {"query": CATALOGUE}}))
        out.append((role, "GET", "/v1/releases", {"params": {"limit": "2"}}))  # a page's next
        out.append((role, "GET", "/v1/datasets", {"params": {"limit": "1"}}))
        out.append((role, "GET", "/readyz", {}))
    for path in ("/v1/admin/budgets", "/v1/admin/ledger", "/v1/admin/audit", "/v1/admin/releases"):
        out.append(("admin", "GET", path, {}))
    for path in ("/v1/admin/accounts", "/v1/admin/ledger", "/v1/admin/audit", "/v1/admin/releases"):
        out.append(("admin", "GET", path, {"params": {"limit": "1"}}))  # a page and its next
    return out


FORESEE = """query ($q: CountQueryInput!) { estimate(query: $q) { epsilon marginOfError cells
  cached covered derivedFrom derivedMarginOfError predictedSuppressed prediction
  coarser { groupBy cells suppressed } } }"""


def summaries(dims: list[str], profile: list[tuple[str, list[str]]]) -> list[tuple]:
    """Publishing summaries (refusals, the same one twice, a second template), then queries
    answered from them, forced direct or refused, and estimates that predict from them."""
    out: list[tuple] = []
    summary = {"dataset": "helpline-cases", "epsilon": 1}
    refused = [
        {"template": "nope"},
        {"year": 2025},  # not complete within the coverage
        {"year": 2023},
        {"epsilon": 0},
        {"epsilon": 50},
        {"epsilon": "x"},
        {"dataset": "no-such-dataset"},
        {"unexpected": 1},
    ]
    for extra in refused:
        out.append(("admin", "POST", "/v1/admin/summaries", {"json": summary | extra}))
    out.append(("researcher", "POST", "/v1/admin/summaries", {"json": summary}))
    out.append(("admin", "POST", "/v1/admin/summaries", {"json": summary}))
    out.append(("admin", "POST", "/v1/admin/summaries", {"json": summary}))  # the same one
    report = summary | {"template": "annual-report", "year": 2024}
    out.append(("admin", "POST", "/v1/admin/summaries", {"json": report}))
    out += reports()  # "{-1}": the annual report's release, the last one seen
    listing = {"dataset": "helpline-cases"}
    out.append(("admin", "GET", "/v1/admin/summaries", {"params": listing}))
    out.append(("admin", "GET", "/v1/admin/summaries", {"params": listing | {"limit": "1"}}))
    for d in dims:
        out += asks_for(query([d]))
        out.append(("researcher", "POST", "/v1/queries", {"json": query([d], source="summary")}))
    for d, v in PERSON:
        out += asks_for(query(["gender"], [(d, [v])]))
        out += asks_for(query(["complaint_group"], [(d, [v])], source="summary"))
        out.append(("researcher", "POST", "/v1/queries", {"json": query([], [(d, [v])])}))
        table = query(["month", "complaint_type", "gender"], [(d, [v])])
        out.append(("researcher", "POST", "/v1/queries/estimate", {"json": table}))
        gql = {"query": FORESEE, "variables": {"q": as_graphql(table)}}
        out.append(("researcher", "POST", "/graphql", {"json": gql}))
    for period in PERIODS:
        out += asks_for(query(["quarter", "gender"], period=period))
    out += asks_for(query(["vulnerable_group"], profile[6:7]))
    out += asks_for(query(["gender"], source="direct"))
    return out + derived_statistics()


def derived_statistics() -> list[tuple]:
    """Shares, changes and rates answered from the summary (free), one it does not cover
    (refused on ``source``, or bought), and one forced direct."""
    share, group = {"kind": "share", "of": "gender"}, {"kind": "share", "of": "complaint_group"}
    bodies = [
        query(["gender"], statistic=share),
        query(["complaint_group", "gender"], source="summary", statistic=group),
        query(["complaint_group"], [("gender", ["GM"])], statistic=group),
        query(["age_band", "gender"], source="summary", statistic=share),
        query(["month"], statistic={"kind": "change", "from": "2024-12", "to": "2025-01"}),
        query(
            ["quarter", "gender"], statistic={"kind": "change", "from": "2024-Q1", "to": "2024-Q2"}
        ),
        query(
            ["gender"],
            period={"from": "2024-07"},
            source="summary",
            statistic={"kind": "rate", "per": "month"},
        ),
        query(["gender", "city"], source="summary", statistic=share),
        query(["gender", "city"], statistic=share),
        query(["gender"], source="direct", statistic=share),
    ]
    out: list[tuple] = []
    for body in bodies:
        out += asks_for(body)
        gql = {"query": STATISTIC, "variables": {"q": as_graphql(body)}}
        out.append(("researcher", "POST", "/graphql", {"json": gql}))
    return out


def reports() -> list[tuple]:
    """The annual report of the summary just published ("{-1}"): read by each role before and
    after it is published to partners, as JSON and CSV, with its refusals."""
    out: list[tuple] = []
    report = "/v1/reports/{-1}"
    publish = {"title": "Report", "audience": ["all-partners"]}
    fields = (
        "releaseId year epsilon confidence simultaneous figures { name unit value lower upper }"
    )
    gql = [  # GraphQL over GET, the release id in the query text (only "{-1}" unquoted)
        "/graphql?query="
        + quote('{ annualReport(releaseId: "')
        + "{-1}"
        + quote(f'"{extra}) {{ {fields} }} }}')
        for extra in ("", ", confidence: 0.9", ", confidence: 2")
    ]
    for when in ("before", "after"):
        for role in ("admin", "researcher", "partner", "stranger"):
            out.append((role, "GET", report, {}))
            out.append((role, "GET", gql[0], {}))
            out.append((role, "GET", report, {"params": {"format": "csv", "bom": "true"}}))
            out.append((role, "GET", "/v1/reports", {"params": {"limit": "1"}}))
        if when == "before":
            out.append(("admin", "POST", "/v1/admin/summaries/{-1}/publish", {"json": publish}))
    for params in ({"confidence": "0.9"}, {"confidence": "2"}, {"format": "xlsx"}):
        out.append(("admin", "GET", report, {"params": params}))
    out.append(("admin", "GET", "/v1/reports/{0}", {}))  # not a summary: refused
    out += [("researcher", "GET", path, {}) for path in gql[1:]]
    return out


@pytest.fixture(scope="module")
def worlds(request, tmp_path_factory):
    backend = request.param
    if backend == "sqlite":
        urls = [f"sqlite:///{tmp_path_factory.mktemp(n) / 'w.db'}" for n in ("a", "b")]
    else:
        pg = request.getfixturevalue("pg_databases")
        urls = [pg.create(), pg.create()]
    from schema.migrate import upgrade

    for url in urls:
        upgrade(url)
    a = build(urls[0], tmp_path_factory.mktemp("export-a"), [])
    b = build(urls[1], tmp_path_factory.mktemp("export-b"), ROWS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(planning, "_measurement", Fixed)
        yield a, b
    for w in (a, b):
        w.close()


def _run(worlds, ask) -> str | None:
    """Send one request to both worlds; the difference found, if any."""
    role, method, path, kwargs = ask
    responses = []
    for w in worlds:
        if "{" in path:
            at = int(path.split("{")[1].split("}")[0])
            if at >= len(w.releases):
                return None
            path_w = path.replace(f"{{{at}}}", w.releases[at])
        else:
            path_w = path
        r = w.call(role, method, path_w, **kwargs)
        found = r.json() if "json" in r.headers.get("content-type", "") else {}
        data = found.get("data") if isinstance(found, dict) else None
        for holder in (found, *((data or {}).values())):
            if isinstance(holder, dict):
                rid = holder.get("release_id") or holder.get("releaseId")
                if rid and rid not in w.releases:
                    w.releases.append(rid)
        responses.append(normalise(r))
        if r.status_code >= 500:  # alike is not enough: a 500 in both worlds is a failure too
            return f"{method} {path} {str(kwargs)[:300]}: {r.status_code} {r.text[:300]}"
    if responses[0] != responses[1]:
        return f"{method} {path} {str(kwargs)[:300]}: {difference(*responses)}"
    return None


WORLDS = pytest.mark.parametrize(
    "worlds", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.mark.slow
@WORLDS
def test_every_request_is_answered_alike(worlds):
    asks = corpus()
    found = [d for d in (_run(worlds, ask) for ask in asks) if d]
    assert not found, f"{len(found)} of {len(asks)} differ:\n" + "\n".join(found[:12])
    a, b = (records(w) for w in worlds)
    assert a == b
    assert len(asks) > 800 and len(a["ledger"]) > 150  # the corpus exercises charged releases
    outcomes = [(e[1], e[2]) for e in a["audit"]]  # summaries published, answers derived
    assert outcomes.count(("summary", "released")) >= 2 and ("summary", "cache_hit") in outcomes
    assert outcomes.count(("query", "derived")) >= 54  # 18 of them with a statistic
    assert outcomes.count(("download", "report_json")) >= 3  # staff, researcher, partner
    assert outcomes.count(("download", "report_graphql")) >= 6  # as report_json, and at 0.9
    assert ("download", "report_csv") in outcomes and ("publish", "published") in outcomes


def _values(dimension: str) -> list[str]:
    if dimension in ("month", "quarter", "year"):
        return ["2024-01", "2025-01", "2024-Q4", "2025-Q1", "2024", "2025", "2026"]
    return codelists()[dimension].code_list()


@st.composite
def random_query(draw) -> dict[str, Any]:
    dims = st.sampled_from([*DIMENSIONS, "religion", "Gender", "ＧＥＮＤＥＲ"])
    group_by = draw(st.lists(dims, max_size=3))
    filters = []
    for d in draw(st.lists(st.sampled_from(DIMENSIONS), max_size=3, unique=True)):
        pool = (
            _values(d) if d in codelists().dimensions or d in ("month", "quarter", "year") else []
        )
        filters.append(
            (d, draw(st.lists(st.sampled_from(pool + JUNK[:4]), min_size=1, max_size=3)))
        )
    months = st.sampled_from(["2024-01", "2024-12", "2025-01", "2025-02", "2023-12", "٢٠٢٤-01"])
    period = draw(st.none() | st.fixed_dictionaries({}, optional={"from": months, "to": months}))
    extra = draw(
        st.sampled_from(
            [
                {},
                {"confidence": 0.8},
                {"epsilon": 0.002},
                {"epsilon": None, "margin_of_error": 5000},
            ]
        )
    )
    return query(group_by, filters, period, **extra)


@WORLDS
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=random_query(), interface=st.integers(0, 4))
def test_random_queries_are_answered_alike(worlds, body, interface):
    difference = _run(worlds, asks_for(body)[interface])
    assert difference is None, difference
