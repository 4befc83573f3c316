"""The Python client (clients/python) against a real uvicorn server over a loaded warehouse:
its DataFrames hold exactly what the REST API answered, and refusals are ``AmaanError``s."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pytest
from amaan_client import Amaan, AmaanError, ConnectionFailed, Estimate

from tests.api.servers import free_port, running_server
from tests.client.conftest import DATASET

pytestmark = pytest.mark.slow  # a real server


def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def amaan(served):
    with Amaan(served.url, served.keys["researcher"]) as client:
        yield client


def records(frame):
    """The rows as dicts, pandas' missing values as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def codes(client, dimension):
    found = next(d for d in client.dimensions(DATASET) if d["name"] == dimension)
    return [c["code"] for c in found["codes"]]


def test_the_catalogue_is_the_apis(served, amaan):
    headers = auth(served.keys["researcher"])
    listed = httpx.get(served.url + "/v1/datasets", headers=headers).json()
    assert listed["next"] is None and amaan.datasets() == listed["items"]
    assert amaan.me() == httpx.get(served.url + "/v1/me", headers=headers).json()
    raw = httpx.get(f"{served.url}/v1/dimensions?dataset={DATASET}&version=1", headers=headers)
    assert amaan.dimensions(DATASET, version=1) == raw.json()
    assert amaan.datasets()[0]["versions"][0]["first_month"] == "2024-01"
    assert "key" not in repr(amaan).lower() and served.keys["researcher"] not in repr(amaan)


def test_count_is_the_release_in_the_order_asked_and_charged_as_estimated(served, amaan):
    before = amaan.budget(DATASET)
    cost = amaan.estimate(DATASET, ["province", "gender"], epsilon=0.1)
    assert cost == Estimate(Decimal("0.1"), cost.margin_of_error, cost.cells, False)
    table = amaan.count(DATASET, ["province", "gender"], epsilon=0.1)
    assert list(table.columns) == [
        *("province", "province_label", "province_label_ur"),
        *("gender", "gender_label", "gender_label_ur"),
        *("count", "lower", "upper", "suppressed", "reason"),
    ]
    provinces, genders = codes(amaan, "province"), codes(amaan, "gender")
    assert len(table) == cost.cells == len(provinces) * len(genders)
    assert set(zip(table["province"], table["gender"], strict=True)) == {
        (p, g) for p in provinces for g in genders
    }
    assert (table["count"].isna() == table["suppressed"]).all()
    assert str(table["count"].dtype) == "Int64" and str(table["province"].dtype) == "string"
    attrs = table.attrs
    assert attrs["epsilon_charged"] == Decimal("0.1") and attrs["cached"] is False
    assert attrs["group_by"] == ["province", "gender"] and attrs["dataset_version"] == 1
    assert attrs["budget_remaining"] == before - Decimal("0.1") == amaan.budget(DATASET)
    stored = httpx.get(
        f"{served.url}/v1/releases/{attrs['release_id']}", headers=auth(served.keys["researcher"])
    ).json()
    for row, cell in zip(records(table), stored["cells"], strict=True):
        key = cell["key"]
        for dimension in ("province", "gender"):
            assert row[dimension] == key[dimension]["code"]
            assert row[f"{dimension}_label"] == key[dimension]["label"]
            assert row[f"{dimension}_label_ur"] == key[dimension]["label_ur"]
        assert {k: row[k] for k in ("count", "lower", "upper", "suppressed", "reason")} == {
            k: cell[k] for k in ("count", "lower", "upper", "suppressed", "reason")
        }
    again = amaan.count(DATASET, ["GENDER", "province"], epsilon=0.1)  # any order, any case
    assert again.attrs["cached"] is True and again.attrs["epsilon_charged"] == 0
    assert list(again.columns[:3]) == ["gender", "gender_label", "gender_label_ur"]
    by_key = again.set_index(["province", "gender"])["count"]
    assert by_key.equals(table.set_index(["province", "gender"])["count"].loc[by_key.index])
    assert amaan.budget(DATASET) == attrs["budget_remaining"]
    assert amaan.estimate(DATASET, ["gender", "province"], epsilon=0.1).cached is True


def test_filters_period_and_confidence(amaan):
    table = amaan.count(
        DATASET, ["gender"], {"gender": ["F", "M"]}, period=("2024-01", "2024-06"), epsilon=0.1
    )
    assert table["gender"].tolist() == ["F", "M"] and table.attrs["confidence"] == 0.95
    narrower = amaan.count(
        DATASET,
        ["gender"],
        {"gender": ["M", "F"]},
        period=("2024-01", "2024-06"),
        epsilon=0.1,
        confidence=0.8,
    )
    assert (
        narrower.attrs["cached"] is True
        and narrower.attrs["release_id"] == (table.attrs["release_id"])
    )
    assert narrower.attrs["margin_of_error"] < table.attrs["margin_of_error"]
    shown = ~table["suppressed"]
    assert narrower["count"][shown].equals(table["count"][shown])


def test_refusals_are_amaan_errors(served, amaan):
    with pytest.raises(AmaanError) as bad:
        amaan.count(DATASET, ["religion"], epsilon=0.1)
    assert (bad.value.code, bad.value.status, bad.value.field) == ("invalid_query", 422, "group_by")
    assert "complaint_type" in bad.value.valid
    with pytest.raises(AmaanError) as wide:
        amaan.estimate(DATASET, ["gender"], epsilon=100)
    assert (wide.value.code, wide.value.status) == ("epsilon_above_maximum", 422)
    with Amaan(served.url, served.keys["thrifty"]) as thrifty:
        thrifty.count(DATASET, ["channel"], epsilon=0.1)
        with pytest.raises(AmaanError) as over:
            thrifty.count(DATASET, ["platform"], epsilon=0.1)
        assert (over.value.code, over.value.status) == ("account_budget_exceeded", 403)
        assert over.value.details["remaining"] == 0.05 and thrifty.budget(DATASET) == Decimal(
            "0.05"
        )
    with Amaan(served.url, "not-a-key") as stranger, pytest.raises(AmaanError) as anonymous:
        stranger.datasets()
    assert (anonymous.value.code, anonymous.value.status) == ("unauthorized", 401)
    with pytest.raises(TypeError, match="group_by is a list"):
        amaan.count(DATASET, "gender", epsilon=0.1)


def test_no_server_is_a_connection_failure():
    nowhere = Amaan(f"http://127.0.0.1:{free_port()}", "k")
    with nowhere, pytest.raises(ConnectionFailed) as failed:
        nowhere.datasets()
    assert failed.value.status == 0 and failed.value.code == "unreachable"


def test_releases_and_a_published_extract_downloaded(served):
    staff = auth(served.keys["admin"])
    query = {"dataset": DATASET, "group_by": ["year", "complaint_group"], "epsilon": 0.2}
    body = {"title": "By group", "query": query, "audience": ["all-partners"], "margins": True}
    published = httpx.post(f"{served.url}/v1/admin/releases", json=body, headers=staff)
    assert published.status_code == 201, published.text
    release_id = published.json()["release_id"]
    with Amaan(served.url, served.keys["partner"]) as partner:
        listed = partner.releases()
        row = listed.set_index("release_id").loc[release_id]
        assert row["kind"] == "publication" and row["epsilon"] == Decimal("0.2")
        extract = partner.download(release_id)
        assert partner.metadata(release_id)["release_id"] == release_id
    raw = httpx.get(
        f"{served.url}/v1/releases/{release_id}?format=csv", headers=auth(served.keys["partner"])
    )
    rows = list(csv.DictReader(io.StringIO(raw.text)))
    assert list(extract.columns) == list(rows[0]) and len(extract) == len(rows)
    for got, want in zip(records(extract), rows, strict=True):
        assert {k: "" if v is None else v for k, v in got.items()} == want | {
            "count": int(want["count"]) if want["count"] else "",
            "lower": int(want["lower"]),
            "upper": int(want["upper"]),
            "year": int(want["year"]) if want["year"] else "",
            "suppressed": want["suppressed"] == "true",
            "total": want["total"] == "true",
        }
    assert str(extract["year"].dtype) == "Int64" and extract.attrs["group_by"] == query["group_by"]
    totals = extract[extract["total"]]
    assert set(totals["total_over"]) == {"year", "complaint_group", "year complaint_group"}
    assert totals[totals["total_over"] == "year"]["year"].isna().all()
    assert set(totals[totals["total_over"] == "complaint_group"]["year"]) == {2024}
    shown = extract["count"].dropna()
    assert len(shown) and (shown % 5 == 0).all()  # published with rounding base 5
    assert extract.attrs["release_id"] == release_id and extract.attrs["rounding"] == 5
    assert extract.attrs["epsilon"] == Decimal("0.2") and extract.attrs["dataset_version"] == 1


def test_a_rate_limited_request_says_when_to_retry(served):
    limited = served.env | {"AMAAN_RATE_LIMIT_RESEARCHER": "2/minute"}
    with running_server(limited, workers=1) as url, Amaan(url, served.keys["thrifty"]) as client:
        client.datasets()
        client.datasets()
        with pytest.raises(AmaanError) as refused:
            client.datasets()
    assert (refused.value.code, refused.value.status) == ("rate_limited", 429)
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 60


def test_shares_changes_and_rates_are_the_apis_statistics_and_free(served, amaan):
    table = amaan.count(DATASET, ["year", "complaint_group"], epsilon=0.1)
    spent = amaan.budget(DATASET)
    shares = amaan.share(DATASET, ["year", "complaint_group"], of="complaint_group", epsilon=0.1)
    assert amaan.budget(DATASET) == spent and shares.attrs["epsilon_charged"] == 0
    assert shares.attrs["release_id"] == table.attrs["release_id"]
    assert (shares.attrs["kind"], shares.attrs["of"]) == ("share", "complaint_group")
    assert list(shares.columns) == [
        *("year", "year_label", "year_label_ur"),
        *("complaint_group", "complaint_group_label", "complaint_group_label_ur"),
        *("value", "lower", "upper", "suppressed", "reason"),
    ]
    assert shares["value"].sum() == pytest.approx(1, abs=1e-3)
    assert ((shares["lower"] <= shares["value"]) & (shares["value"] <= shares["upper"])).all()
    raw = httpx.post(
        served.url + "/v1/queries",
        json={
            "dataset": DATASET,
            "group_by": ["year", "complaint_group"],
            "epsilon": 0.1,
            "statistic": {"kind": "share", "of": "complaint_group"},
        },
        headers=auth(served.keys["researcher"]),
    ).json()["statistic"]["cells"]
    assert shares["value"].tolist() == [c["value"] for c in raw]
    change = amaan.change(DATASET, ["quarter"], "2024-Q1", "2024-Q2", epsilon=0.1)
    assert list(change.columns) == [
        *("value", "lower", "upper", "percent", "percent_lower", "percent_upper"),
        *("suppressed", "reason"),
    ]
    assert len(change) == 1 and change.attrs["from"] == "2024-Q1"
    quarters = amaan.count(DATASET, ["quarter"], epsilon=0.1).set_index("quarter")["count"]
    assert change["value"][0] == quarters["2024-Q2"] - quarters["2024-Q1"]
    rate = amaan.rate(DATASET, ["quarter"], epsilon=0.1)
    assert rate.attrs["months"] == 12 and rate["value"][0] == round(quarters.sum() / 12, 1)
    with pytest.raises(AmaanError) as bad:
        amaan.share(DATASET, ["gender"], of="province", epsilon=0.1)
    assert (bad.value.field, bad.value.valid) == ("statistic.of", ["gender"])


def test_a_count_table_reads_the_same_from_rows_and_columns(served, amaan):
    from amaan_client import tables

    table = amaan.count(DATASET, ["gender", "age_band"], epsilon=0.1)
    path = f"{served.url}/v1/releases/{table.attrs['release_id']}"
    headers = auth(served.keys["researcher"])
    in_rows = httpx.get(path, headers=headers).json()
    in_columns = httpx.get(path, headers=headers, params={"layout": "columns"}).json()
    assert in_columns["layout"] == "columns" and isinstance(in_rows["cells"], list)
    for asked in ([], ["age_band", "gender"]):
        rows, columns = (tables.count_table(b, asked) for b in (in_rows, in_columns))
        assert rows.equals(columns) and list(rows.columns) == list(columns.columns)
        assert rows.attrs == columns.attrs
    assert table.drop(columns=[]).equals(tables.count_table(in_rows, ["gender", "age_band"]))


# Last: once a summary is published, the queries it covers are answered from it for free.
def test_an_annual_report_published_to_a_partner(served):
    staff = auth(served.keys["admin"])
    body = {"dataset": DATASET, "template": "annual-report", "year": 2024, "epsilon": 0.5}
    made = httpx.post(f"{served.url}/v1/admin/summaries", json=body, headers=staff)
    assert made.status_code == 201, made.text
    release_id = made.json()["release_id"]
    share = {"title": "Annual report 2024", "audience": ["all-partners"]}
    shared = httpx.post(
        f"{served.url}/v1/admin/summaries/{release_id}/publish", json=share, headers=staff
    )
    assert shared.status_code == 201, shared.text
    with Amaan(served.url, served.keys["partner"]) as partner:
        listed = partner.reports()
        assert list(listed["release_id"]) == [release_id]
        assert listed["epsilon"].iloc[0] == Decimal(str(made.json()["epsilon"]))
        figures = partner.report(release_id, confidence=0.9)
        with pytest.raises(AmaanError) as refused:
            partner.report(release_id, confidence=2)
    raw = httpx.get(
        f"{served.url}/v1/reports/{release_id}?confidence=0.9", headers=auth(served.keys["partner"])
    ).json()
    assert records(figures) == raw["figures"]
    assert figures.attrs["confidence"] == 0.9 and figures.attrs["year"] == 2024
    assert refused.value.field == "confidence"
