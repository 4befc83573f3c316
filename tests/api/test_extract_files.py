"""Extracts that describe themselves: one CSV table in the asked column order, the CSV zipped
with its about text, and Excel workbooks read back with openpyxl."""

import csv
import io
import zipfile
from dataclasses import replace

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import about
from api.extracts import FORMULA_TRIGGERS
from schema.access import LedgerEntry
from tests.api.conftest import auth
from tests.api.test_extracts import account_id, publish

REASONS = ("below_threshold", "sensitive_threshold", "complementary")
# Many small cells: some are suppressed whatever the noise (most cities see few cases).
SMALL = {"dataset": "helpline-cases", "group_by": ["gender", "city"], "epsilon": 0.2}
BY_MONTH = {"dataset": "helpline-cases", "group_by": ["month", "gender"], "epsilon": 0.2}


def download(client, key, release_id, **params):
    r = client.get(f"/v1/releases/{release_id}", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_csv_columns_follow_the_query_and_time_is_numeric(api):
    client, keys, _ = api
    pub = publish(client, keys, ["all-partners"], query=BY_MONTH, margins=True)
    rows = csv_rows(download(client, keys["partner"], pub["release_id"], format="csv").content)
    head = rows[0]
    assert head == [
        *("year", "month", "gender", "gender_label", "gender_label_ur"),  # as published
        *("count", "lower", "upper", "suppressed", "reason", "total", "total_over"),
    ]
    table = [dict(zip(head, r, strict=True)) for r in rows[1:]]
    cells = [r for r in table if r["total"] == "false"]
    assert cells and all(r["total_over"] == "" for r in cells)
    assert {(int(r["year"]), int(r["month"])) for r in cells} >= {(2024, 1), (2024, 12)}
    over_month = [r for r in table if r["total_over"] == "month"]
    assert over_month and all(r["month"] == "" and r["year"] == "" for r in over_month)
    over_gender = [r for r in table if r["total_over"] == "gender"]
    assert over_gender and all(r["gender"] == "TOTAL" and r["month"].isdigit() for r in over_gender)
    assert [r["total_over"] for r in table if r["total"] == "true"].count("month gender") == 1
    assert not [v for r in table for k, v in r.items() if k in ("year", "month") and "TOTAL" in v]

    asked = {"dataset": "helpline-cases", "group_by": ["Gender", "year"], "epsilon": 0.2}
    r = client.post("/v1/queries?format=csv", json=asked, headers=auth(keys["alice"]))
    assert r.status_code == 200, r.text
    assert csv_rows(r.content)[0][:5] == [
        "gender",
        "gender_label",
        "gender_label_ur",
        "year",
        "count",
    ]
    asked["group_by"] = ["year", "gender"]  # the same release, the columns as asked
    again = client.post("/v1/queries?format=csv", json=asked, headers=auth(keys["alice"]))
    assert csv_rows(again.content)[0][:3] == ["year", "gender", "gender_label"]
    assert again.headers["x-amaan-release-id"] == r.headers["x-amaan-release-id"]


def test_csv_with_about_is_a_zip_of_the_csv_and_its_meaning(api):
    client, keys, _ = api
    pub = publish(client, keys, ["all-partners"], query=SMALL)
    release = pub["release_id"]
    r = download(client, keys["partner"], release, format="csv", about="1")
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == f'attachment; filename="amaan_{release}.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        assert archive.namelist() == [f"amaan_{release}.csv", f"amaan_{release}_about.txt"]
        table, text = (archive.read(n) for n in archive.namelist())
    assert table == download(client, keys["partner"], release, format="csv", bom="1").content
    assert text.startswith("\ufeff".encode())
    read = text.decode("utf-8-sig")
    meta = client.get(f"/v1/releases/{release}/metadata", headers=auth(keys["partner"])).json()
    for note in about.notes(meta):
        assert note.en in read and note.ur in read
    assert "Title: Complaints by group and gender" in read and "Privacy loss (ε): 0.2" in read
    assert "Period: 2024-01 to 2024-12" in read and "عنوان: Complaints by group and gender" in read


def test_xlsx_has_typed_cells_and_an_about_sheet(api):
    client, keys, _ = api
    partner = account_id(client, keys["partner"])
    pub = publish(client, keys, [partner], query=SMALL, margins=True)
    release = pub["release_id"]
    r = download(client, keys["partner"], release, format="xlsx")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert r.headers["content-disposition"] == f'attachment; filename="amaan_{release}.xlsx"'
    assert r.headers["x-amaan-epsilon"] == "0.2"
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["Table", "About this table"]
    sheet = book["Table"]
    assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1])
    got = [list(row) for row in sheet.iter_rows(values_only=True)]
    rows = csv_rows(download(client, keys["partner"], release, format="csv").content)
    assert got[0] == rows[0] and len(got) == len(rows)
    head = rows[0]
    for cells, texts in zip(got[1:], rows[1:], strict=True):
        row = dict(zip(head, cells, strict=True))
        assert [("" if v is None else str(v).lower()) for v in cells] == [t.lower() for t in texts]
        assert isinstance(row["suppressed"], bool) and isinstance(row["total"], bool)
        if row["suppressed"]:
            assert row["count"] is None and row["reason"] in REASONS
        else:
            assert all(isinstance(row[n], int) for n in ("count", "lower", "upper"))
            assert row["reason"] is None
    assert any(row[head.index("suppressed")] for row in got[1:])  # blank, with its reason
    ur = head.index("gender_label_ur") + 1
    assert all(sheet.cell(i, ur).alignment.readingOrder == 2 for i in range(2, len(got) + 1))
    assert sheet.column_dimensions["B"].width >= len("gender_label")

    info = book["About this table"]
    lines = [list(row) for row in info.iter_rows(values_only=True)]
    facts = {row[0]: (row[1], row[2]) for row in lines if row[0] and row[1]}
    assert facts["Title"] == ("Complaints by group and gender", "عنوان")
    assert facts["Dataset version"][0] == "1" and facts["Privacy loss (ε)"][0] == "0.2"
    assert facts["Confidence"][0] == "95%" and facts["Period"][0] == "2024-01 to 2024-12"
    meta = client.get(f"/v1/releases/{release}/metadata", headers=auth(keys["partner"])).json()
    texts = [value for row in lines for value in row if value]
    for note in about.notes(meta):
        assert {note.en, note.en_heading, note.ur, note.ur_heading} <= set(texts)
    urdu = [c for row in info.iter_rows() for c in row if c.column == 3 and c.value]
    assert urdu and all(c.alignment.readingOrder == 2 for c in urdu)


@pytest.mark.parametrize(
    ("params", "field", "valid"),
    [
        ({"format": "XLSX"}, "format", "'json', 'csv' or 'xlsx'"),
        ({"format": "pdf"}, "format", "'json', 'csv' or 'xlsx'"),
        ({"format": "csv", "about": "true"}, "about", "'0' or '1'"),
        ({"format": "csv", "about": "2"}, "about", "'0' or '1'"),
    ],
)
def test_formats_and_about_are_strictly_parsed(api, params, field, valid):
    client, keys, _ = api
    pub = publish(client, keys, ["all-partners"])
    for r in (
        client.get(
            f"/v1/releases/{pub['release_id']}", params=params, headers=auth(keys["partner"])
        ),
        client.post("/v1/queries", params=params, json=SMALL, headers=auth(keys["alice"])),
    ):
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_request" and error["errors"][0]["loc"] == ["query", field]
        assert valid in error["message"]


def test_about_goes_with_the_csv_only(api):
    client, keys, engine = api
    pub = publish(client, keys, ["all-partners"])
    for params in (
        {"about": "1"},
        {"format": "xlsx", "about": "1"},
        {"format": "json", "about": "1"},
    ):
        r = client.get(
            f"/v1/releases/{pub['release_id']}", params=params, headers=auth(keys["partner"])
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "about"
    with Session(engine) as s:
        before = s.scalar(select(func.count()).select_from(LedgerEntry))
    r = client.post("/v1/queries?about=1", json=SMALL, headers=auth(keys["alice"]))
    assert r.status_code == 422 and r.json()["error"]["valid"] == ["0", "1"]
    with Session(engine) as s:  # refused before anything was released or charged
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before


def test_xlsx_cells_never_hold_a_formula(api, monkeypatch):
    from schema import codelists as module

    lists = module.codelists()
    dimension = lists["gender"]
    patched = tuple(
        replace(code, en=FORMULA_TRIGGERS[i % 6] + "SUM(A1)", ur=FORMULA_TRIGGERS[i % 6] + "x")
        for i, code in enumerate(dimension.codes)
    )
    monkeypatch.setitem(lists.dimensions, "gender", replace(dimension, codes=patched))
    client, keys, _ = api
    pub = publish(client, keys, ["all-partners"], query=SMALL, title="=HYPERLINK(1)")
    r = download(client, keys["partner"], pub["release_id"], format="xlsx")
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert cells and not [c for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert "'=HYPERLINK(1)" in texts and not [t for t in texts if t.startswith(FORMULA_TRIGGERS)]
    labels = [c.value for c in book["Table"]["B"][1:] if c.value != "Total"]
    assert labels and all(label.startswith("'") for label in labels)
