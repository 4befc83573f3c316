"""Published extracts: staff publish once, partners download JSON and CSV, never spending."""

import csv
import io
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.extracts import FORMULA_TRIGGERS
from schema.access import LedgerEntry
from schema.models import Dataset
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["complaint_group", "gender"], "epsilon": 0.2}


def cell_totals(cell):
    return [name for name, k in cell["key"].items() if k["code"] == "TOTAL"]


def account_id(client, key):
    return client.get("/v1/me", headers=auth(key)).json()["id"]


def publish(client, keys, audience, **extra):
    body = {"title": "Complaints by group and gender", "query": QUERY, "audience": audience}
    r = client.post("/v1/admin/releases", json=body | extra, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    return r.json()


def test_publish_once_charged_to_the_cap_then_downloads_spend_nothing(api):
    client, keys, engine = api
    partner = account_id(client, keys["partner"])
    pub = publish(client, keys, [partner], description="For the 2024 report", margins=True)
    assert (pub["epsilon_charged"], pub["rounding"], pub["audience"]) == (0.2, 5, [partner])
    with Session(engine) as s:
        ledger = s.scalars(select(LedgerEntry)).all()
        spent = s.scalars(select(Dataset.spent_micro)).one()
    assert [(e.kind, e.epsilon_micro) for e in ledger] == [("publication", 200_000)]
    assert spent == 200_000

    listed = client.get("/v1/releases", headers=auth(keys["partner"])).json()["items"]
    assert [(i["release_id"], i["kind"], i["title"]) for i in listed] == [
        (pub["release_id"], "publication", "Complaints by group and gender")
    ]
    as_json = client.get(f"/v1/releases/{pub['release_id']}", headers=auth(keys["partner"]))
    assert as_json.status_code == 200 and as_json.json()["rounding"] == 5
    cells = as_json.json()["cells"]
    assert any(c["total"] for c in cells)
    assert all(c["count"] % 5 == 0 for c in cells if c["count"] is not None)

    r = client.get(f"/v1/releases/{pub['release_id']}?format=csv", headers=auth(keys["partner"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    name = f"amaan_{pub['release_id']}.csv"  # from the release id only
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert r.headers["x-amaan-epsilon"] == "0.2" and r.headers["x-amaan-rounding"] == "5"
    assert r.headers["x-amaan-release-id"] == pub["release_id"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert list(rows[0])[:3] == [
        "complaint_group",
        "complaint_group_label",
        "complaint_group_label_ur",
    ]
    assert len(rows) == len(cells)
    by_key = {tuple(k["code"] for k in c["key"].values()): c for c in cells}
    for row in rows:
        cell = by_key[(row["complaint_group"], row["gender"])]
        assert row["count"] == ("" if cell["count"] is None else str(cell["count"]))
        assert row["total"] == ("true" if cell["total"] else "false")
        assert row["suppressed"] == ("true" if cell["suppressed"] else "false")
        assert row["total_over"] == (" ".join(cell_totals(cell)) if cell["total"] else "")
    assert any(row["total_over"] == "gender" and row["gender"] == "TOTAL" for row in rows)

    accept = client.get(
        f"/v1/releases/{pub['release_id']}",
        headers=auth(keys["partner"]) | {"Accept": "text/csv"},
    )
    assert accept.content == r.content
    bom = client.get(
        f"/v1/releases/{pub['release_id']}?format=csv&bom=1", headers=auth(keys["partner"])
    )
    assert bom.content.startswith("\ufeff".encode()) and bom.content[3:] == r.content

    meta = client.get(f"/v1/releases/{pub['release_id']}/metadata", headers=auth(keys["partner"]))
    assert meta.json()["contribution_bound"] == 2 and meta.json()["title"] == pub["title"]
    assert meta.json()["mechanism"] and meta.json()["threshold"] == 10
    with Session(engine) as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1  # downloads spent nothing
    after = client.get("/v1/admin/releases", headers=auth(keys["admin"])).json()["items"]
    assert after[0]["downloads"] == 4


def test_partners_cannot_read_what_was_not_published_to_them(api):
    client, keys, _ = api
    partner = account_id(client, keys["partner"])
    pub = publish(client, keys, [partner])
    missing = client.get("/v1/releases/r_doesnotexist", headers=auth(keys["partner2"]))
    other = client.get(f"/v1/releases/{pub['release_id']}", headers=auth(keys["partner2"]))
    meta = client.get(f"/v1/releases/{pub['release_id']}/metadata", headers=auth(keys["partner2"]))
    assert missing.status_code == other.status_code == meta.status_code == 404
    assert missing.json()["error"]["code"] == other.json()["error"]["code"] == "not_found"
    assert client.get("/v1/releases", headers=auth(keys["partner2"])).json()["items"] == []

    everyone = publish(client, keys, ["all-partners"])
    got = client.get(f"/v1/releases/{everyone['release_id']}", headers=auth(keys["partner2"]))
    assert got.status_code == 200


def test_audience_must_name_partners(api):
    client, keys, _ = api
    researcher = account_id(client, keys["alice"])
    body = {"title": "x", "query": QUERY, "audience": [researcher]}
    r = client.post("/v1/admin/releases", json=body, headers=auth(keys["admin"]))
    assert r.status_code == 422 and r.json()["error"]["not_partners"] == [researcher]
    body["audience"] = ["all-partners", researcher]
    assert (
        client.post("/v1/admin/releases", json=body, headers=auth(keys["admin"])).status_code == 422
    )


def test_partner_ad_hoc_queries_need_a_budget_and_come_as_csv(api):
    client, keys, _ = api
    r = client.post("/v1/queries", json=QUERY, headers=auth(keys["partner"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = client.post("/v1/queries?format=csv", json=QUERY, headers=auth(keys["partner_budget"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][-7:] == [
        "count",
        "lower",
        "upper",
        "suppressed",
        "reason",
        "total",
        "total_over",
    ]
    dims = {d["name"]: d for d in client.get("/v1/dimensions", headers=auth(keys["alice"])).json()}
    cells = len(dims["complaint_group"]["codes"]) * len(dims["gender"]["codes"])
    assert len(rows) == 1 + cells  # the header, then one row per cell


def test_csv_cells_never_start_a_formula(api, monkeypatch):
    """Code-list labels seeded with formula triggers come out neutralised."""
    from schema import codelists as module

    lists = module.codelists()
    seeded = {}
    for i, code in enumerate(lists["complaint_group"].codes):
        trigger = FORMULA_TRIGGERS[i % len(FORMULA_TRIGGERS)]
        seeded[code.code] = (trigger + 'HYPERLINK("http://x")', trigger + "cmd|' /C calc'!A0")
    dimension = lists["complaint_group"]
    patched = tuple(
        replace(code, en=seeded[code.code][0], ur=seeded[code.code][1]) for code in dimension.codes
    )
    monkeypatch.setitem(lists.dimensions, "complaint_group", replace(dimension, codes=patched))
    client, keys, _ = api
    r = client.post("/v1/queries?format=csv", json=QUERY, headers=auth(keys["alice"]))
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    labels = [cell for row in rows[1:] for cell in row[1:3]]
    assert len(labels) == 2 * (len(rows) - 1) and all(label.startswith("'") for label in labels)
    assert not [c for row in rows for c in row if c.startswith(FORMULA_TRIGGERS)]


def test_republish_for_a_newer_version_keeps_the_old_one(api, tmp_path):
    from etl.load import load_file
    from etl.synth import SynthOptions, write_export
    from tests.etl.helpers import options

    client, keys, engine = api
    reordered = QUERY | {"group_by": ["gender", "complaint_group"]}
    pub = publish(client, keys, ["all-partners"], query=reordered)
    again = client.post(
        f"/v1/admin/releases/{pub['publication_id']}/republish", headers=auth(keys["admin"])
    )
    assert again.status_code == 409
    path = tmp_path / "newer.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=10))
    load_file(path, engine, options())
    again = client.post(
        f"/v1/admin/releases/{pub['publication_id']}/republish", headers=auth(keys["admin"])
    )
    assert again.status_code == 201, again.text
    new = again.json()
    assert (new["dataset_version"], new["replaces"], new["epsilon_charged"]) == (
        2,
        pub["publication_id"],
        0.2,
    )
    for release in (pub["release_id"], new["release_id"]):
        r = client.get(f"/v1/releases/{release}?format=csv", headers=auth(keys["partner"]))
        assert r.status_code == 200 and r.text.startswith("gender,")  # the order kept
