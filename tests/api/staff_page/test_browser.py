"""The staff's budget review page in a real browser (Playwright driving Debian's Chromium)
against a real uvicorn server with the demo data."""

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.servers import run_demo, running_server

pytestmark = pytest.mark.slow  # a real server and Chromium

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("AMAAN_TEST_OUTPUT", "test-output")) / "admin-page"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":  # CI: everything must run
            pytest.fail(f"{CHROMIUM} is missing (Debian package chromium)")
        pytest.skip(f"browser tests need {CHROMIUM}")
    env, keys, _ = run_demo(tmp_path_factory.mktemp("demo"))
    env["AMAAN_RATE_LIMIT_ANONYMOUS"] = "1000/minute"  # every test signs in anew
    with running_server(env, workers=2) as base:
        researcher = {"Authorization": f"Bearer {keys['researcher']}"}
        for group_by in (["gender"], ["province"], ["year", "gender"]):
            body = {"dataset": "helpline-cases", "group_by": group_by, "epsilon": 0.1}
            assert (
                httpx.post(f"{base}/v1/queries", json=body, headers=researcher).status_code == 200
            )
        yield base, keys


@pytest.fixture
def browser_page(demo):
    from playwright.sync_api import sync_playwright

    base, _ = demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        seen = {"hosts": set(), "errors": []}
        page.on("request", lambda r: seen["hosts"].add(urlsplit(r.url).hostname))
        page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        yield page, seen
        context.close()
        browser.close()


def sign_in(page, key):
    page.goto("/admin")
    assert page.url.endswith("/admin/sign-in")
    page.get_by_label("Your staff API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_overview_matches_the_admin_api_and_screenshots(demo, browser_page):
    base, keys = demo
    page, seen = browser_page
    sign_in(page, keys["admin"])
    assert page.url == f"{base}/admin"
    staff = {"Authorization": f"Bearer {keys['admin']}"}
    api = httpx.get(f"{base}/v1/admin/budgets", headers=staff).json()
    for dataset in api["datasets"]:
        section = page.locator("section", has=page.get_by_role("heading", name=dataset["title"]))
        assert section.locator('[data-field="spent"]').inner_text() == f"ε {dataset['spent']}"
        assert (
            section.locator('[data-field="remaining"]').inner_text() == f"ε {dataset['remaining']}"
        )
    chart = page.get_by_role("img", name=re.compile("ε spent on"))
    assert chart.count() == 1
    assert page.locator("table caption", has_text="ε spent per month").count() == 1
    first = page.locator("tbody tr").first  # accounts near their limit come first
    assert first.is_visible()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "overview-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width} px wide at 360 px"
    page.screenshot(path=str(OUTPUT / "overview-360.png"), full_page=True)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert seen["hosts"] == {"127.0.0.1"}
    assert seen["errors"] == []


def test_change_a_limit_with_a_reason(demo, browser_page):
    base, keys = demo
    page, seen = browser_page
    sign_in(page, keys["admin"])
    page.get_by_role("link", name="Demo researcher").first.click()
    assert "/admin/accounts/" in page.url
    page.get_by_label("New limit (ε)").fill("1.5")
    page.get_by_label("Reason (kept in the audit log)").fill("second year of the study")
    page.get_by_role("button", name="Change the limit").click()
    assert page.get_by_role("status").inner_text().startswith("The limit was changed")
    assert page.locator('[data-field="limit"]').first.inner_text() == "ε 1.5"
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Action").select_option("budget.account")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("table.audit tbody tr").first
    assert "second year of the study" in row.inner_text()
    assert "Hash chain intact" in page.locator('[data-field="verification"]').inner_text()
    staff = {"Authorization": f"Bearer {keys['admin']}"}
    ledger = httpx.get(f"{base}/v1/admin/audit?action=budget.account&limit=1", headers=staff)
    assert "second year of the study" in ledger.json()["items"][0]["detail"]
    assert seen["hosts"] == {"127.0.0.1"} and seen["errors"] == []


def test_a_researcher_key_cannot_sign_in(demo, browser_page):
    _, keys = demo
    page, seen = browser_page
    sign_in(page, keys["researcher"])
    assert page.get_by_role("alert").inner_text().startswith("That key is not a valid staff")
    assert not [c for c in page.context.cookies() if c["name"] == "amaan_admin"]
    page.goto("/admin")
    assert page.url.endswith("/admin/sign-in")
    assert seen["hosts"] == {"127.0.0.1"}


def test_a_forged_form_post_without_the_token_is_refused(demo, browser_page):
    base, keys = demo
    page, _ = browser_page
    sign_in(page, keys["admin"])
    cookie = next(c for c in page.context.cookies() if c["name"] == "amaan_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    forged = page.request.post(
        f"{base}/admin/accounts/1/budget",
        form={"dataset": "helpline-cases", "epsilon": "100", "reason": "forged"},
    )
    assert forged.status == 403 and "did not come from Amaan" in forged.text()
    wrong = page.request.post(
        f"{base}/admin/accounts/1/budget",
        form={"dataset": "helpline-cases", "epsilon": "100", "reason": "forged", "csrf": "x"},
    )
    assert wrong.status == 403
    staff = {"Authorization": f"Bearer {keys['admin']}"}
    audit = httpx.get(f"{base}/v1/admin/audit?action=budget.account", headers=staff).json()["items"]
    assert not any("forged" in e["detail"] for e in audit)
    page.goto("/admin")
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/admin/sign-in")
    page.goto("/admin")
    assert page.url.endswith("/admin/sign-in")


def test_output_folder_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", str(OUTPUT / "x.png")], check=False)
    assert ignored.returncode == 0


def test_publish_an_extract_after_seeing_its_cost(demo, browser_page):
    base, keys = demo
    page, seen = browser_page
    sign_in(page, keys["admin"])
    page.get_by_role("link", name="Releases").click()
    page.get_by_label("Title").fill("Complaints by province and gender, 2024")
    page.get_by_label("gender", exact=True).check()
    page.get_by_label("province", exact=True).check()
    page.get_by_label("From month").fill("2024-01")
    page.get_by_label("To month").fill("2024-12")
    page.get_by_label("Amount").fill("0.15")
    page.get_by_role("button", name="Estimate the cost").click()
    assert page.locator('[data-field="epsilon"]').inner_text() == "0.15"
    said = page.locator('[data-field="choices"]').inner_text()
    for choice in ("2024-01 to 2024-12", "gender, province", "without totals", "all partners"):
        assert choice in said
    assert page.locator('[data-choice="confidence"]').inner_text().startswith("95")
    assert "% of ε " in page.locator('[data-field="share"]').inner_text()
    staff = {"Authorization": f"Bearer {keys['admin']}"}
    before = httpx.get(f"{base}/v1/admin/budgets", headers=staff).json()["datasets"][0]["spent"]
    page.get_by_role("button", name="Publish").click()
    assert page.get_by_role("status").inner_text().startswith("The extract was published")
    assert page.get_by_role(
        "rowheader", name=re.compile("Complaints by province and gender")
    ).count()
    after = httpx.get(f"{base}/v1/admin/budgets", headers=staff).json()["datasets"][0]["spent"]
    assert Decimal(str(after)) == Decimal(str(before)) + Decimal("0.15")  # exact to 6 places
    partner = {"Authorization": f"Bearer {keys['partner']}"}
    titles = [r["title"] for r in httpx.get(f"{base}/v1/releases", headers=partner).json()["items"]]
    assert "Complaints by province and gender, 2024" in titles
    assert seen["hosts"] == {"127.0.0.1"} and seen["errors"] == []


def test_publish_the_annual_report_and_share_it(demo, browser_page):
    base, keys = demo
    page, seen = browser_page
    sign_in(page, keys["admin"])
    page.get_by_role("link", name="Summaries").click()
    page.get_by_label("Template").select_option("annual-report")
    page.get_by_label("Year").fill("2030")
    page.get_by_label("ε", exact=True).fill("1")
    page.get_by_role("button", name="Publish the summary").click()
    assert "year must be a complete year" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Year").input_value() == "2030"  # the form, filled in again
    page.get_by_label("Year").fill("2024")
    page.get_by_role("button", name="Publish the summary").click()
    assert page.get_by_role("status").inner_text().startswith("The summary was published")
    link = page.get_by_role("link", name="Figures (CSV)")
    got = page.request.get(link.get_attribute("href"))
    assert got.status == 200 and "کیسز" in got.text()
    assert got.text().splitlines()[0].endswith("figure,label,label_ur,unit,value,lower,upper")
    page.get_by_role("button", name="Publish to partners").click()
    assert page.get_by_role("status").inner_text().startswith("The annual report was published")
    partner = {"Authorization": f"Bearer {keys['partner']}"}
    items = httpx.get(f"{base}/v1/reports", headers=partner).json()["items"]
    assert [i["title"] for i in items] == ["Annual report 2024"]
    assert seen["hosts"] == {"127.0.0.1"}
    assert len(seen["errors"]) == 1 and "422" in seen["errors"][0]  # the refused year


# Every element outside a horizontally scrolling box (wide tables and the chart scroll in
# theirs) ends within the viewport; the scrolling boxes themselves are checked too.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, out = [];
  const scrolls = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll") return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if ((r.width || r.height) && r.right > width + 0.5 && !scrolls(el))
      out.push(`${el.tagName.toLowerCase()}.${el.className} ends at ${Math.round(r.right)}`);
  }
  return {scroll: document.scrollingElement.scrollWidth, out};
}"""


def _fits(page, name):
    found = page.evaluate(OVERFLOW)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}-360.png"), full_page=True)
    assert found["scroll"] <= 360, (name, found)
    assert found["out"] == [], (name, found["out"])


def test_every_page_fits_360_px_and_screenshots(demo, browser_page):
    _, keys = demo
    page, seen = browser_page
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/admin/sign-in")
    _fits(page, "sign-in")
    sign_in(page, keys["admin"])
    for name, url in (
        ("overview", "/admin"),
        ("overview-week", "/admin?by=week"),
        ("accounts", "/admin/accounts"),
        ("audit", "/admin/audit"),
        ("releases", "/admin/releases"),
        ("summaries", "/admin/summaries"),
    ):
        page.goto(url)
        _fits(page, name)
    page.goto("/admin")
    page.locator("summary", has_text="What does ε mean?").first.click()
    _fits(page, "overview-explained")
    page.get_by_role("link", name="Demo researcher").first.click()
    page.wait_for_url(re.compile(r"/admin/accounts/\d+$"))
    _fits(page, "account")
    page.get_by_role("link", name="Revoke…").first.click()
    page.wait_for_url(re.compile(r"/admin/keys/\d+/revoke$"))
    _fits(page, "revoke")
    page.goto("/admin/releases")
    page.get_by_label("Title").fill("A long title that has to wrap on a narrow telephone screen")
    page.get_by_label("gender", exact=True).check()
    page.get_by_label("Amount").fill("0.01")
    page.get_by_role("button", name="Estimate the cost").click()
    page.get_by_role("heading", name="What it costs").wait_for()
    _fits(page, "estimate")
    page.goto("/admin/accounts")
    page.get_by_label("Name").fill("Narrow screen partner")
    page.get_by_label("Role").select_option("partner")
    page.get_by_role("button", name="Create the account").click()
    # The form's answer is a new page: measured once it has come (a loaded machine is slow).
    page.get_by_role("heading", name="New key for Narrow screen partner").wait_for()
    _fits(page, "key")
    assert seen["hosts"] == {"127.0.0.1"} and seen["errors"] == []
    page.goto("/admin/keys/999999/revoke")  # a refusal's message page (a 404)
    _fits(page, "message")


def test_a_new_key_is_shown_once_and_copied(demo, browser_page):
    base, keys = demo
    page, seen = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    sign_in(page, keys["admin"])
    page.get_by_role("link", name="Accounts").click()
    rows = page.locator("table tbody tr")
    roles = set(page.locator('[data-field="role"]').all_inner_texts())
    assert roles == {"researcher", "partner", "admin"} and rows.count() >= 3
    page.get_by_label("Name").fill("Copy test researcher")
    page.get_by_label("Budget on each (ε, optional)").fill("0.3")
    page.get_by_label("helpline-cases").check()
    page.get_by_role("button", name="Create the account").click()
    assert page.get_by_role("status").first.inner_text().startswith("The account Copy test")
    shown = page.get_by_label("API key").input_value()
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == shown
    me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {shown}"}).json()
    assert me["name"] == "Copy test researcher" and me["budgets"][0]["limit"] == 0.3
    page.get_by_role("link", name="Go to Copy test researcher's account").click()
    assert shown not in page.content()  # shown once
    assert page.locator('[lang="ur"][dir="rtl"]').count() >= 1  # ε explained in Urdu too
    page.get_by_role("link", name="Audit").click()
    said = page.locator("table.audit tbody").inner_text()
    assert "created the researcher account Copy test researcher" in said
    assert seen["hosts"] == {"127.0.0.1"} and seen["errors"] == []
