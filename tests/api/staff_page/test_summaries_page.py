"""The summaries page without a browser: publishing a summary through the release pipeline
(the same refusals as REST and the CLI, naming the field, nothing charged), the list a page
at a time, the annual report's CSV and publishing it to partners."""

import csv
import html
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.summaries import report
from schema.access import Account
from schema.models import Dataset
from tests.api.conftest import auth
from tests.api.staff_page.test_sessions import csrf_of, sign_in

FORM = {"dataset": "helpline-cases", "template": "annual-report", "year": "2024", "epsilon": "1"}


def _spent(engine) -> int:
    with Session(engine) as s:
        return s.scalars(select(Dataset.spent_micro)).one()


def test_refusals_name_the_field_and_charge_nothing(api):
    client, keys, engine = api
    sign_in(client, keys["admin"])
    token = csrf_of(client)
    cases = [
        ({"template": "everything"}, 422, "no summary template"),
        ({"year": "20x4"}, 422, "year must be a year written with four digits"),
        ({"year": "2023"}, 422, "year must be a complete year within 2024-01 to 2024-12"),
        ({"epsilon": ""}, 422, "epsilon"),
        ({"epsilon": "abc"}, 422, "epsilon"),
        ({"epsilon": "50"}, 403, "the dataset cap has"),
        ({"dataset": "nope"}, 404, "nope"),
    ]
    for change, status, reason in cases:
        r = client.post("/admin/summaries", data=FORM | change | {"csrf": token})
        assert r.status_code == status and reason in html.unescape(r.text), (change, r.text)
        assert 'action="/admin/summaries"' in r.text  # the form is shown again, filled in
        assert f'value="{html.escape((FORM | change)["epsilon"])}"' in r.text
    forged = client.post("/admin/summaries", data=FORM, follow_redirects=False)
    assert forged.status_code == 403
    assert _spent(engine) == 0
    listed = client.get("/v1/admin/summaries?dataset=helpline-cases", headers=auth(keys["admin"]))
    assert listed.json() == {"items": [], "next": None}


def test_publish_then_download_and_share_the_report(api):
    client, keys, engine = api
    sign_in(client, keys["admin"])
    r = client.post(
        "/admin/summaries", data=FORM | {"csrf": csrf_of(client)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/admin/summaries?dataset=helpline-cases&done=published"
    shown = client.get(r.headers["location"])
    assert "The summary was published" in shown.text and _spent(engine) > 0
    listed = client.get("/v1/admin/summaries?dataset=helpline-cases", headers=auth(keys["admin"]))
    (made,) = listed.json()["items"]
    assert f'data-release="{made["release_id"]}"' in shown.text
    again = client.post("/admin/summaries", data=FORM | {"csrf": csrf_of(client)})
    assert "already published: nothing was charged" in again.text
    got = client.get(f"/admin/summaries/{made['release_id']}/report.csv")
    assert got.status_code == 200 and got.headers["x-amaan-template"] == "annual-report"
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert [r["figure"] for r in rows] == list(report.NAMES)
    with Session(engine) as s:
        partner = s.scalars(select(Account.id).where(Account.name == "partner")).one()
    share = {"title": "Annual report 2024", "audience": [str(partner)], "csrf": csrf_of(client)}
    path = f"/admin/summaries/{made['release_id']}/publish"
    r = client.post(path, data=share | {"title": " "})
    assert r.status_code == 422 and "an extract needs a title" in r.text
    r = client.post(path, data=share, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=shared")
    items = client.get("/v1/reports", headers=auth(keys["partner"])).json()["items"]
    assert [i["title"] for i in items] == ["Annual report 2024"]
    said = html.unescape(client.get("/admin/audit?action=publish").text)
    assert "published the annual report" in said
    assert client.get("/admin/summaries?cursor=nope!").status_code == 422
