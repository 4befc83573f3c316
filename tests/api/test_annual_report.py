"""The annual report (issue 12 §4): its figures from an ``annual-report`` summary, as the
service serves them (REST, CSV with English and Urdu labels, the CLI), free and audited.

On the calibrated demo data (``amaan demo``'s export: 2017 to 2024, seed 1, 40 dirty rows,
loaded by the real loader) at total ε 1, with OpenDP noise, every figure's interval holds the
value the helpline published (DOMAIN.md) at the simultaneous level ``LEVEL``, and the
figures are consistent with each other exactly.

LEVEL: each figure's interval misses the value before noise with probability at most
α = 1e-5 / 14 / 2 ≈ 3.6e-7 (exactly so for counts, whose intervals come from the exact law of
their noise; approximately for shares and changes, Fieller's with the multiplier taken from
that law), so by the union bound some figure misses it with probability 5e-6 at most. The demo data
is calibrated to the published values (equal for counts; shares and changes differ only by
the published rounding, 0.0001 to 0.002, against half-widths of 0.2 and more), which the
other half of the 1e-5 covers: a spurious failure is below 1e-5 a run.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import answers
from api.app import create_app
from api.summaries import extract, report, stored, templates
from etl.coverage import Coverage
from etl.load import LoadOptions, load_file
from etl.synth import SynthOptions, write_export
from privacy import Epsilon
from privacy.derive import Summary
from privacy.summary import plan_summary, slices
from schema.access import Account, AuditEntry, StoredSummary
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Dataset
from schema.repositories import accounts
from schema.repositories.audit_verify import KEY_INFO
from schema.settings import DEMO_PSEUDONYM_KEY
from tests.api.conftest import auth, settings_for
from tests.conftest import PgDatabases

LEVEL = 1 - 1e-5 / report.FIGURES / 2
YEAR = 2024
PUBLISHED = {  # DOMAIN.md; shares and changes as fractions
    "cases_year": 3171,
    "cases_since_start": 20020,
    "monthly_average": 264,
    "cyber_harassment": 2741,
    "cyber_harassment_fia_share": 0.36,
    "women": 1772,
    "women_share_ncii": 0.85,
    "women_share_iba_other": 0.81,
    "minors": 124,
    "minors_change": 0.51,
    "journalists": 121,
    "human_rights_defenders": 44,
    "religious_ethnic_minorities": 24,
    "countries": 25,
}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str], object]]:
    """The demo data loaded, a staff account, and its annual report for 2024 at ε 1."""
    folder = tmp_path_factory.mktemp("demo")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'demo.db'}"
    else:
        dbs: PgDatabases = request.getfixturevalue("pg_databases")
        url = dbs.create()
    upgrade(url)
    export = folder / "export.csv"
    write_export(export, SynthOptions(seed=1, dirty=40))
    engine = make_engine(url)
    options = LoadOptions(
        dataset="helpline-cases",
        pseudonym_key=DEMO_PSEUDONYM_KEY.encode(),
        covers=Coverage("2017-01", "2024-12"),
        max_cases_per_person=2,
    )
    load_file(export, engine, options)
    settings = settings_for(url)
    with Session(engine, info={KEY_INFO: settings.audit_secret()}) as s, s.begin():
        staff = accounts.create_account(s, name="staff", role="admin")
        keys = {"admin": accounts.issue_key(s, staff.id)[1]}
        ask = answers.Summarise("helpline-cases", "annual-report", "1", YEAR)
        keys["release"] = answers.answer(s, staff, ask, settings).release.public_id
    with TestClient(create_app(settings)) as client:
        yield client, keys, engine
    engine.dispose()


def _holds(name: str, lower: float | None, upper: float | None) -> bool:
    value = PUBLISHED[name]
    return (lower is None or lower <= value) and (upper is None or value <= upper)


def test_every_figure_holds_the_published_value(demo):
    client, keys, _ = demo
    r = client.get(
        f"/v1/reports/{keys['release']}", params={"confidence": LEVEL}, headers=auth(keys["admin"])
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["confidence"] == LEVEL and out["simultaneous"] is False
    figures = {f["name"]: f for f in out["figures"]}
    assert list(figures) == list(PUBLISHED)
    missed = {
        n: (f["value"], f["lower"], f["upper"])
        for n, f in figures.items()
        if not _holds(n, f["lower"], f["upper"])
    }
    assert not missed, missed
    for f in figures.values():  # every figure shown, and within its own interval
        assert f["value"] is not None
        assert (f["lower"] is None or f["lower"] <= f["value"]) and (
            f["upper"] is None or f["value"] <= f["upper"]
        )


def test_the_figures_are_consistent_exactly(demo):
    client, keys, engine = demo
    with Session(engine) as s:
        row = s.scalars(select(StoredSummary)).one()
        summary = stored.rebuilt(row, keys["release"])
    checks = report.consistency(summary, YEAR)
    assert len(checks) == 12 and all(ok for _, ok in checks), checks
    out = client.get(f"/v1/reports/{keys['release']}", headers=auth(keys["admin"])).json()
    shown = {f["name"]: f["value"] for f in out["figures"]}
    assert shown["cases_year"] == int(
        summary.answer(report.Question((), months=report.months_of(YEAR))).shown[0]
    )
    assert shown["monthly_average"] == round(shown["cases_year"] / 12, 2)
    assert out["confidence"] == report.SIMULTANEOUS and out["simultaneous"] is True


def _publish(client, keys, template="annual-report", **extra):
    body = {"dataset": "helpline-cases", "epsilon": 1, "template": template, **extra}
    r = client.post("/v1/admin/summaries", json=body, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    return r.json()["release_id"]


GQL = """query ($id: String!, $c: Float) { annualReport(releaseId: $id, confidence: $c) {
  releaseId dataset datasetVersion year firstMonth lastMonth epsilon mechanism privacyUnit
  contributionBound confidence simultaneous releasedAt interpretation
  figures { name label labelUr unit value lower upper } } }"""


def test_graphql_gives_the_report_as_rest_does(demo):
    client, keys, engine = demo
    admin, release = auth(keys["admin"]), keys["release"]
    for conf in (None, 0.9):
        params = {} if conf is None else {"confidence": conf}
        rest = client.get(f"/v1/reports/{release}", params=params, headers=admin)
        gql = client.post(
            "/graphql", json={"query": GQL, "variables": {"id": release, "c": conf}}, headers=admin
        ).json()
        assert "errors" not in gql, gql
        got, want = gql["data"]["annualReport"], rest.json()
        assert [
            (f["name"], f["labelUr"], f["value"], f["lower"], f["upper"]) for f in got["figures"]
        ] == [
            (f["name"], f["label_ur"], f["value"], f["lower"], f["upper"]) for f in want["figures"]
        ]
        assert (got["releaseId"], got["year"], got["epsilon"], got["confidence"]) == (
            want["release_id"],
            want["year"],
            want["epsilon"],
            want["confidence"],
        )
        assert got["simultaneous"] is (conf is None)
    for variables, field in (({"id": release, "c": 2.0}, "confidence"), ({"id": "nope"}, None)):
        refused = client.post(
            "/graphql", json={"query": GQL, "variables": variables}, headers=admin
        ).json()
        (error,) = refused["errors"]
        assert error["extensions"]["code"] in ("invalid_query", "malformed_query", "not_found")
        if field:
            assert error["extensions"]["field"] == field, error
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "download"))
        assert list(outcomes).count("report_graphql") == 2  # each read audited, refusals not


def test_report_as_json_and_csv_with_its_metadata(api):
    client, keys, engine = api  # a warehouse of 2024 only: no change from 2023
    release = _publish(client, keys, year=2024)
    r = client.get(f"/v1/reports/{release}", headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [f["name"] for f in out["figures"]] == list(report.NAMES)
    assert {f["unit"] for f in out["figures"]} == set(report.UNITS)
    change = next(f for f in out["figures"] if f["name"] == "minors_change")
    assert change == change | {"value": None, "lower": None, "upper": None}
    assert out["figures"][0]["label"] == "Cases in 2024"
    assert out["figures"][0]["label_ur"] == "2024 میں کیسز"
    assert out["epsilon"] == 0.999997 and out["template"] == "annual-report" and out["year"] == 2024
    assert r.headers["X-Amaan-Template"] == "annual-report"
    assert r.headers["X-Amaan-Simultaneous"] == "true"
    got = client.get(f"/v1/reports/{release}?format=csv&bom=true", headers=auth(keys["admin"]))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"].endswith(f'amaan_{release}_report.csv"')
    text = got.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [r["figure"] for r in rows] == list(report.NAMES)
    assert rows[0]["label_ur"] == "2024 میں کیسز"
    assert rows[0]["value"] == str(int(out["figures"][0]["value"]))
    with Session(engine) as s:
        outcomes = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "download")
        ).all()
    assert outcomes == ["report_json", "report_csv"]


def _id_of(engine, name: str) -> int:
    with Session(engine) as s:
        return s.scalars(select(Account.id).where(Account.name == name)).one()


def test_report_refusals_name_the_field(api):
    client, keys, _ = api
    release = _publish(client, keys, year=2024)
    default = _publish(client, keys, template="default")
    admin = auth(keys["admin"])
    r = client.get(f"/v1/reports/{default}", headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "release_id", r.text
    for bad in ("1.5", "0.5", "abc", "0.9999999999", " 0.9", "0.9_0", "٠.٩", "nan", "9e-1"):
        r = client.get(f"/v1/reports/{release}", params={"confidence": bad}, headers=admin)
        assert r.status_code == 422 and r.json()["error"]["field"] == "confidence", r.text
    r = client.get(f"/v1/reports/{release}?format=xlsx", headers=admin)
    assert r.status_code == 422 and "format" in r.text
    assert client.get("/v1/reports/r_" + "0" * 24, headers=admin).status_code == 404
    for path in (f"/v1/releases/{release}", f"/v1/releases/{release}/metadata"):
        r = client.get(path, headers=admin)  # a summary holds no table
        assert r.status_code == 422 and r.json()["error"]["field"] == "release_id", r.text
    assert client.get(f"/v1/reports/{release}", headers=auth(keys["partner"])).status_code == 404
    assert client.get(f"/v1/reports/{release}", headers=auth(keys["alice"])).status_code == 200
    publish = f"/v1/admin/summaries/{default}/publish"
    body = {"title": "Report", "audience": ["all-partners"]}
    r = client.post(publish, json=body, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "release_id"
    publish = f"/v1/admin/summaries/{release}/publish"
    r = client.post(publish, json=body | {"audience": ["x"]}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "audience"
    r = client.post(publish, json=body | {"title": "  "}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "title"
    r = client.post(publish, json=body, headers=auth(keys["partner"]))
    assert r.status_code == 403


def test_partners_get_the_report_published_to_them(api):
    client, keys, engine = api
    release = _publish(client, keys, year=2024)
    partner = _id_of(engine, "partner")
    body = {"title": "Annual report 2024", "audience": [partner]}
    with Session(engine) as s:
        spent = s.scalars(select(Dataset.spent_micro)).one()
    r = client.post(
        f"/v1/admin/summaries/{release}/publish", json=body, headers=auth(keys["admin"])
    )
    assert r.status_code == 201, r.text
    assert r.json() | {"published_at": None} == {
        "publication_id": r.json()["publication_id"],
        "release_id": release,
        "title": "Annual report 2024",
        "description": "",
        "dataset": "helpline-cases",
        "dataset_version": 1,
        "year": 2024,
        "epsilon": 0.999997,
        "published_at": None,
    }
    with Session(engine) as s:  # publishing the report spends nothing
        assert s.scalars(select(Dataset.spent_micro)).one() == spent
    listed = client.get("/v1/reports", headers=auth(keys["partner"])).json()
    assert [x["release_id"] for x in listed["items"]] == [release] and listed["next"] is None
    assert client.get("/v1/reports", headers=auth(keys["partner2"])).json()["items"] == []
    assert client.get(f"/v1/reports/{release}", headers=auth(keys["partner"])).status_code == 200
    assert client.get(f"/v1/reports/{release}", headers=auth(keys["partner2"])).status_code == 404
    # The extracts' lists are as they were: a report is listed with the reports.
    for key, path in (("partner", "/v1/releases"), ("admin", "/v1/admin/releases")):
        r = client.get(path, headers=auth(keys[key]))
        assert r.status_code == 200 and release not in r.text, r.text
    verify = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"]))
    assert verify.json()["ok"] is True, verify.json()


MONTHS = tuple(f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([0, 3, 1_000, 10**9]),
    shift=st.sampled_from([0, -1, 1]),
    conf=st.floats(0.5000001, extract.MAX_CONFIDENCE),
)
def test_the_figures_never_raise_on_any_noisy_values(seed, size, shift, conf):
    """Post-processing is total: whatever the noisy slices hold (zeros, negatives, huge),
    fourteen figures come out, each value and bound a finite number or empty."""
    design = templates.design(
        "annual-report", 2, {"vulnerable_group": 2, "referral": 3}, {"gender": frozenset({"GM"})}
    )
    plan = plan_summary(design, Epsilon.parse("1"), templates.weights("annual-report", design))
    rng = np.random.default_rng(seed)
    noisy = {
        (name, period): rng.integers(-size, size + 1, design.spec(name).cells) + shift * size
        for name, period in slices(design, list(MONTHS))
    }
    scales = {k: p.scale for k, p in plan.plans.items()}
    summary = Summary(design, scales, noisy, list(MONTHS), templates.rollups())
    found = report.figures(summary, 2024, conf)
    assert [f.name for f in found] == list(report.NAMES)
    for f in found:
        for v in (f.value, f.lower, f.upper):
            assert v is None or math.isfinite(v), f
