"""Publishing summaries (issue 12): refused before any read, charged to the cap once, the
ledger and audit agreeing, and a later version re-measuring only its new months."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.access import AuditEntry, LedgerEntry, StoredSummary
from schema.models import Dataset
from tests.api.conftest import auth

SLUG = "helpline-cases"


def _publish(client, keys, **body):
    return client.post(
        "/v1/admin/summaries",
        json={"dataset": SLUG, "epsilon": 1, **body},
        headers=auth(keys["admin"]),
    )


def test_publish_default_summary_charges_the_cap_once(api):
    client, keys, engine = api
    with Session(engine) as s:
        before = s.scalars(select(Dataset)).one().spent_micro
    r = _publish(client, keys)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["template"] == "default" and out["release_id"].startswith("r_")
    assert 0 < out["epsilon_charged"] <= 1
    assert out["epsilon_charged"] == pytest.approx(sum(t["epsilon"] for t in out["tables"]))
    assert out["copied_slices"] == 0 and out["measured_slices"] > 12
    with Session(engine) as s:
        spent = s.scalars(select(Dataset)).one().spent_micro - before
        ledger = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "summary")).all()
        logged = s.scalars(select(AuditEntry).where(AuditEntry.action == "summary")).all()
        assert s.scalars(select(StoredSummary)).one().measured == out["measured_slices"]
    assert [e.epsilon_micro for e in ledger] == [spent]
    assert [(e.outcome, e.epsilon_micro) for e in logged] == [("released", spent)]
    assert spent == round(out["epsilon_charged"] * 1_000_000)
    again = _publish(client, keys)  # the same summary: returned, not charged again
    assert again.status_code == 201 and again.json()["release_id"] == out["release_id"]
    assert again.json()["epsilon_charged"] == 0
    listed = client.get(f"/v1/admin/summaries?dataset={SLUG}", headers=auth(keys["admin"]))
    assert [x["release_id"] for x in listed.json()["items"]] == [out["release_id"]]
    verify = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"]))
    assert verify.json()["ok"] is True, verify.json()


@pytest.fixture
def reads(monkeypatch):
    """Every read of case data a summary makes (the GROUP BYs), recorded."""
    from api.summaries import measured

    calls: list[list[str]] = []
    real = measured.count_cases

    def spy(session, version_id, group_by, filters=None, period=None):
        calls.append(list(group_by))
        return real(session, version_id, group_by, filters, period)

    monkeypatch.setattr(measured, "count_cases", spy)
    return calls


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"dataset": "nope"}, 404, "dataset"),
        ({"template": "everything"}, 422, "template"),
        ({"year": 2023}, 422, "year"),
        ({"epsilon": 0}, 422, "epsilon"),
        ({"epsilon": "abc"}, 422, "epsilon"),
        ({"epsilon": 11}, 403, None),  # over the dataset's cap of 10
    ],
)
def test_publish_is_refused_before_any_read(api, reads, body, status, field):
    client, keys, engine = api
    r = _publish(client, keys, **body)
    assert r.status_code == status, r.text
    if field is not None:
        assert r.json()["error"]["field"] == field, r.json()
    assert reads == []
    with Session(engine) as s:
        assert s.scalars(select(Dataset)).one().spent_micro == 0
        assert s.scalars(select(StoredSummary)).all() == []
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "summary")).one()
        assert refused.outcome == r.json()["error"]["code"]


def test_only_staff_publish_and_the_cells_bound_holds(api, reads, monkeypatch):
    from api import answers
    from api.errors import Forbidden, InvalidQuery
    from api.summaries import templates
    from schema.repositories import accounts
    from tests.api.conftest import settings_for

    client, keys, engine = api
    r = client.post(
        "/v1/admin/summaries", json={"dataset": SLUG, "epsilon": 1}, headers=auth(keys["alice"])
    )
    assert r.status_code == 403
    settings = settings_for(engine.url.render_as_string(hide_password=False))
    ask = answers.Summarise(SLUG, "default", 1)
    with Session(engine) as s:
        researcher = next(a for a in accounts.all_accounts(s) if a.role == "researcher")
        with pytest.raises(Forbidden):
            answers.answer(s, researcher, ask, settings)
        monkeypatch.setattr(templates, "MAX_CELLS", 100)
        staff = next(a for a in accounts.all_accounts(s) if a.role == "admin")
        with pytest.raises(InvalidQuery, match="at most 100"):
            answers.answer(s, staff, ask, settings)
    assert reads == []


def test_a_second_monthly_load_does_not_re_spend_the_history(api, reads, tmp_path):
    from etl.coverage import Coverage
    from etl.load import load_file
    from etl.synth import SynthOptions, write_export
    from tests.etl.helpers import options

    client, keys, engine = api
    first = _publish(client, keys).json()
    assert len(reads) == 6  # one GROUP BY per table
    path = tmp_path / "newer.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=10))
    load_file(path, engine, options(covers=Coverage("2024-01", "2025-01")))
    reads.clear()
    with Session(engine) as s:
        spent = s.scalars(select(Dataset)).one().spent_micro
    r = _publish(client, keys)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["dataset_version"] == 2 and second["extends"] == first["release_id"]
    assert (second["measured_slices"], second["epsilon_charged"]) == (1, 0)  # 2025-01 only
    assert second["copied_slices"] == first["measured_slices"]
    assert reads == [["month", "gender", "complaint_type"]]
    with Session(engine) as s:
        assert s.scalars(select(Dataset)).one().spent_micro == spent
        rows = s.scalars(select(StoredSummary).order_by(StoredSummary.id)).all()
        outcomes = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "summary").order_by(AuditEntry.id)
        ).all()
    assert outcomes == ["released", "extended"]
    old, new = (stored_slices(x) for x in rows)
    assert all(new[k] == v for k, v in old.items())  # months summarised stay as they were
    assert set(new) - set(old) == {("gender_type_month", "2025-01")}
    verify = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"]))
    assert verify.json()["ok"] is True, verify.json()


def stored_slices(row: StoredSummary) -> dict[tuple[str, str], list[int]]:
    from api.summaries.stored import slices_of

    return {k: v.tolist() for k, v in slices_of(row.slices).items()}


@pytest.mark.slow  # the terminal's commands, each a process of its own
def test_cli_publishes_and_lists_summaries(tmp_path):
    import json

    from tests.api.test_cli_access import _run
    from tests.etl.helpers import case, write_export

    db = tmp_path / "w.db"
    assert _run(db, "db", "upgrade").returncode == 0
    export = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(3)])
    load = ["etl", "load", str(export), "--dataset", "helpline-cases", "--demo-key"]
    assert _run(db, *load, "--covers", "2024-01:2024-12").returncode == 0
    made = _run(db, "accounts", "create", "--name", "S", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    staff = str(json.loads(made.stdout)["account_id"])
    publish = ["summaries", "publish", "helpline-cases", "--as", staff, "--epsilon", "1"]
    report = _run(db, *publish, "--template", "annual-report", "--year", "2024")
    assert report.returncode == 0, report.stderr
    out = json.loads(report.stdout)
    assert out["template"] == "annual-report" and out["year"] == 2024
    bad = _run(db, *publish, "--year", "2023")
    assert bad.returncode == 1 and "complete year" in bad.stderr
    listed = _run(db, "summaries", "list", "helpline-cases", "--as", staff)
    assert [s["release_id"] for s in json.loads(listed.stdout)] == [out["release_id"]]
    figures = _run(db, "summaries", "report", out["release_id"], "--as", staff, "--format", "csv")
    assert figures.returncode == 0, figures.stderr
    rows = figures.stdout.splitlines()
    assert rows[0] == "figure,label,label_ur,unit,value,lower,upper" and len(rows) == 15
    assert rows[1].startswith("cases_year,Cases in 2024,2024 میں کیسز,count,")
    shown = _run(db, "summaries", "report", out["release_id"], "--as", staff)
    assert json.loads(shown.stdout)["simultaneous"] is True
    refused = _run(db, "summaries", "report", out["release_id"], "--as", staff, "--confidence", "2")
    assert refused.returncode == 1 and "confidence" in refused.stderr


Q = {"dataset": SLUG, "epsilon": 0.1}


def _query(client, key, **body):
    return client.post("/v1/queries", json={**Q, **body}, headers=auth(key))


def _total(cells):
    """The sum of a table's cells; at a threshold of 1 only a cell shown as 0 is suppressed."""
    return sum(c["count"] or 0 for c in cells)


@pytest.fixture
def unsuppressed(world_url, world_keys):
    """The app with thresholds of 1: every cell shown, so sums can be compared exactly."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from schema.db import make_engine
    from tests.api.conftest import settings_for

    engine = make_engine(world_url)
    settings = settings_for(world_url, suppression_threshold=1, sensitive_threshold=1)
    with TestClient(create_app(settings)) as client:
        yield client, world_keys, engine
    engine.dispose()


def test_covered_queries_are_free_and_consistent(unsuppressed):
    client, keys, engine = unsuppressed
    summary = _publish(client, keys).json()["release_id"]
    before = client.get("/v1/me", headers=auth(keys["bob"])).json()["budgets"]
    year = _query(client, keys["bob"], group_by=[])
    assert year.status_code == 200, year.text
    out = year.json()
    assert out["derived_from"] == summary and out["release_id"] == summary
    assert out["epsilon_charged"] == 0 and out["cached"] is False
    direct = _query(client, keys["bob"], group_by=["gender"], source="direct").json()
    assert set(out) - {"derived_from"} == set(direct) - {"derived_from"}
    total = out["cells"][0]["count"]
    assert out["cells"][0]["lower"] <= total <= out["cells"][0]["upper"]
    for dims in (["month"], ["gender"], ["quarter"], ["complaint_group"]):
        r = _query(client, keys["bob"], group_by=dims, confidence=0.9, source="summary").json()
        assert r["derived_from"] == summary and r["confidence"] == 0.9
        assert _total(r["cells"]) == total, dims  # year = sum of months = over genders ...
    after = client.get("/v1/me", headers=auth(keys["bob"])).json()["budgets"]
    spent = after[0]["spent"] - before[0]["spent"]
    assert spent == pytest.approx(direct["epsilon_charged"])  # only the direct one charged
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "query")).all()
    assert outcomes.count("derived") == 5 and outcomes.count("released") == 1


def test_uncovered_queries_go_direct_or_are_refused(api):
    client, keys, _ = api
    _publish(client, keys)
    plain = _query(client, keys["bob"], group_by=["gender", "city"])
    assert plain.status_code == 200 and plain.json().get("derived_from") is None
    assert plain.json()["epsilon_charged"] == 0.1
    only = _query(client, keys["bob"], group_by=["gender", "city"], source="summary")
    assert only.status_code == 422 and only.json()["error"]["field"] == "source"


GQL_COUNT = """
mutation Count($q: CountQueryInput!) {
  countCases(query: $q) { releaseId epsilonCharged derivedFrom cells { key { code } count } }
}
"""
GQL_ESTIMATE = """
query Estimate($q: CountQueryInput!) {
  estimate(query: $q) {
    epsilon marginOfError covered derivedFrom derivedMarginOfError predictedSuppressed
    coarser { groupBy cells suppressed } prediction
  }
}
"""


def test_graphql_derived_counts_agree_with_rest(unsuppressed):
    from tests.api.test_graphql import gql

    client, keys, _ = unsuppressed
    summary = _publish(client, keys).json()["release_id"]
    q = {"dataset": SLUG, "groupBy": ["GENDER"], "epsilon": 0.1}
    r = gql(client, keys["alice"], GQL_COUNT, {"q": q}).json()
    assert "errors" not in r, r
    out = r["data"]["countCases"]
    assert (out["derivedFrom"], out["epsilonCharged"]) == (summary, 0)
    rest = _query(client, keys["bob"], group_by=["gender"]).json()
    assert [c["count"] for c in rest["cells"]] == [c["count"] for c in out["cells"]]
    year = _query(client, keys["bob"], group_by=[]).json()["cells"][0]["count"]
    assert _total(out["cells"]) == year
    direct = gql(client, keys["alice"], GQL_COUNT, {"q": q | {"source": "DIRECT"}}).json()
    assert direct["data"]["countCases"]["derivedFrom"] is None
    assert direct["data"]["countCases"]["epsilonCharged"] == 0.1
    est = gql(client, keys["alice"], GQL_ESTIMATE, {"q": q}).json()["data"]["estimate"]
    assert est["covered"] is True and est["derivedFrom"] == summary
    blank = sum(c["count"] is None for c in out["cells"])
    assert est["predictedSuppressed"] == blank and est["derivedMarginOfError"] > 0


def test_estimate_says_covered_and_predicts_suppression(api):
    client, keys, _ = api
    q = {**Q, "group_by": ["month", "complaint_type", "gender"]}
    before = client.post("/v1/queries/estimate", json=q, headers=auth(keys["bob"])).json()
    assert before["covered"] is False and before["predicted_suppressed"] is None
    assert "cannot be predicted" in before["prediction"]
    summary = _publish(client, keys).json()["release_id"]
    est = client.post("/v1/queries/estimate", json=q, headers=auth(keys["bob"])).json()
    assert est["covered"] is True and est["derived_from"] == summary
    assert est["cells"] == 12 * 12 * 4 and est["margin_of_error"] == before["margin_of_error"]
    assert 0 < est["predicted_suppressed"] <= est["cells"]
    answer = client.post("/v1/queries", json=q, headers=auth(keys["bob"])).json()
    blank = sum(c["suppressed"] for c in answer["cells"])
    assert blank >= est["predicted_suppressed"]  # the first rule, predicted exactly
    if est["predicted_suppressed"] > est["cells"] / 2:  # proposes coarser tables, least blank first
        shares = [p["suppressed"] / p["cells"] for p in est["coarser"]]
        assert shares and shares == sorted(shares), est
    else:
        assert est["coarser"] is None
    sensitive = client.post(
        "/v1/queries", json={**Q, "group_by": ["age_band"]}, headers=auth(keys["bob"])
    ).json()
    u18 = next(c for c in sensitive["cells"] if c["key"]["age_band"]["code"] == "U18")
    assert u18["suppressed"] is False or u18["reason"] == "sensitive_threshold"
