"""Two warehouses that differ by one person, served side by side with the noise fixed.

The person contributes the most cases the bound allows (2), with rare values: a transgender
minor in Gilgit-Baltistan, a religious-minority member, one case in the last month of the
declared coverage, where the other warehouse has no case at all. Both warehouses get the same
accounts in the same order. ``normalise`` keeps everything a response shows except what may
differ: the noisy numbers of a released table (``count``, ``lower``, ``upper``, ``suppressed``,
``reason`` of each cell, and ``value`` and ``percent`` of a statistic's), release ids and
times.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.app import create_app
from etl.coverage import Coverage
from etl.load import load_file
from etl.synth import COLUMNS, SynthOptions, write_export
from schema.access import AuditEntry, LedgerEntry, Release
from schema.db import make_engine
from schema.models import Dataset
from schema.repositories import accounts
from tests.api.conftest import auth, settings_for
from tests.etl.helpers import case, options

COVERS = ("2024-01", "2025-01")  # the person's second case is the only one in 2025-01
PERSON = [
    case(
        case_ref="NB-1",
        received_on="2024-06-14",
        contact_key="+92 355 7654321",
        complaint_type="NCII",
        gender="GM",
        age="16",
        city="Skardu",
        province="GB",
        platform="TELEGRAM",
        channel="EMAIL",
        vulnerable_groups="MINOR;GENDER_MINORITY",
        referrals="FIA;PSYCHOSOCIAL;LEGAL_AID",
    ),
    case(
        case_ref="NB-2",
        received_on="2025-01-20",
        contact_key="03557654321",
        complaint_type="HATE_DISINFO",
        gender="GM",
        age="17",
        city="Skardu",
        province="GB",
        platform="TELEGRAM",
        channel="EMAIL",
        vulnerable_groups="RELIGIOUS_MINORITY;MINOR",
        referrals="POLICE",
    ),
]
ROLES = (  # name, role, budget in micro-ε (None: no query budget), granted
    ("researcher", "researcher", 900_000_000, True),
    ("frugal", "researcher", 30_000, True),
    ("stranger", "researcher", 1_000_000, False),
    ("partner", "partner", None, True),
    ("budgeted_partner", "partner", 900_000_000, True),
    ("admin", "admin", None, True),
)


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    engine: Engine
    releases: list[str] = field(default_factory=list)  # release ids in the order seen

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.dispose()

    def call(self, role: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {}) | (auth(self.keys[role]) if role else {})
        return self.client.request(method, path, headers=headers, **kwargs)


def _export(path: Path, person: list[dict[str, str]]) -> Path:
    write_export(path, SynthOptions(years=(2024, 2024), seed=5))
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for row in person:
            writer.writerow([row.get(c, "") for c in COLUMNS])
    return path


def build(url: str, folder: Path, person: list[dict[str, str]], bound: int | None = None) -> World:
    """A warehouse of the synthetic export plus ``person``'s rows (none: the neighbour)."""
    engine = make_engine(url)
    folder.mkdir(parents=True, exist_ok=True)
    declared: dict[str, Any] = {"covers": Coverage(*COVERS)}
    if bound is not None:
        declared["max_cases_per_person"] = bound
    load_file(_export(folder / "export.csv", person), engine, options(**declared))
    keys = {}
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        accounts.set_dataset_budget(s, dataset, 10_000_000_000, 500_000)
        for name, role, budget, granted in ROLES:
            account = accounts.create_account(s, name=name, role=role, organisation="O")
            if granted:
                accounts.grant(s, account.id, dataset.id)
            if budget is not None:
                accounts.set_account_budget(s, account.id, dataset.id, budget)
            keys[name] = accounts.issue_key(s, account.id)[1]
    # Each world counts its own rate limits (the in-memory storage may be shared in-process).
    settings = settings_for(url, rate_limit_prefix=f"world-{uuid.uuid4().hex[:8]}")
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.__enter__()  # runs the app's lifespan, which disposes of its engine at the end
    return World(client, keys, engine)


RELEASE_ID = re.compile(r"r[_-][0-9a-f]{24}")  # also in file names, where _ becomes -
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?")
NOISY = ("count", "lower", "upper", "suppressed", "reason", "value", "percent")
CHAINED = ("hash", "prev_hash", "mac")
# An estimate's prediction from a summary: post-processing of its noisy values.
FORESEEN = ("predicted_suppressed", "coarser", "predictedSuppressed")
# Clock-driven: the time, and rate-limit windows (a request near a window's end lands in the
# next one in the other world). Neither depends on the data.
IGNORED_HEADERS = {"date", "content-length", "server", "retry-after"}
IGNORED_HEADERS |= {"x-ratelimit-reset", "x-ratelimit-remaining"}
AUDITED = ("account_id", "action", "outcome", "dataset_id", "version_id", "canonical_key")
AUDITED += ("epsilon_micro",)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):  # chain hashes cover times, so they differ like times do
        out = {
            k: "<noisy>" if k in FORESEEN else _clean(v)
            for k, v in value.items()
            if k not in CHAINED
        }
        for noisy in ("cells", "figures"):  # a release's cells, an annual report's figures
            if isinstance(out.get(noisy), list):
                out[noisy] = [{k: v for k, v in c.items() if k not in NOISY} for c in out[noisy]]
        if isinstance(out.get("cells"), dict):  # ?layout=columns: one list per field
            out["cells"] = {k: v for k, v in out["cells"].items() if k not in NOISY}
        return out
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return MOMENT.sub("<time>", RELEASE_ID.sub("<release>", value))
    return value


def _csv(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return rows
    noisy = [i for i, name in enumerate(rows[0]) if name in NOISY]
    return [rows[0]] + [[("" if i in noisy else v) for i, v in enumerate(r)] for r in rows[1:]]


def _xlsx(content: bytes) -> dict[str, list[list[Any]]]:
    """Every sheet's cell values, the table's noisy columns blanked (the file's dates are the
    release's, a time)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheets = {}
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        if sheet.title == "Table" and rows:
            noisy = [i for i, name in enumerate(rows[0]) if name in NOISY]
            rows = [rows[0]] + [
                [None if i in noisy else v for i, v in enumerate(r)] for r in rows[1:]
            ]
        sheets[sheet.title] = _clean(rows)
    return sheets


def _zip(content: bytes) -> dict[str, Any]:
    """Each file of the zip by its name, normalised (the entries' dates are the release's)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {RELEASE_ID.sub("<release>", n): archive.read(n) for n in archive.namelist()}
    return {
        name: _csv(data.decode("utf-8-sig")) if name.endswith(".csv") else _clean(data.decode())
        for name, data in files.items()
    }


def difference(a: Any, b: Any, at: str = "") -> str:
    """Where two normalised responses first differ, briefly."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return difference(a.get(k), b.get(k), f"{at}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return difference(x, y, f"{at}[{i}]")
    return f"{at or '.'}: {str(a)[:300]} != {str(b)[:300]}"


def normalise(response: Any) -> dict[str, Any]:
    """Everything a caller sees, but the noisy numbers of a release, ids and times."""
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        content: Any = _clean(response.json())
    elif "csv" in kind:
        content = _csv(response.text)
    elif "zip" in kind:
        content = _zip(response.content)
    elif "spreadsheetml" in kind:
        content = _xlsx(response.content)
    else:
        content = _clean(response.text)
    headers = {
        k: _clean(v) for k, v in response.headers.items() if k.lower() not in IGNORED_HEADERS
    }
    return {"status": response.status_code, "headers": headers, "content": content}


def records(world: World) -> dict[str, Any]:
    """What the warehouse kept of the requests: audit, ledger, releases and budgets."""
    with Session(world.engine) as s:
        audit = [
            [getattr(e, name) for name in AUDITED] + [_clean(json.loads(e.detail))]
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
        ledger = s.execute(
            select(LedgerEntry.account_id, LedgerEntry.kind, LedgerEntry.epsilon_micro).order_by(
                LedgerEntry.id
            )
        ).all()
        kept = s.execute(
            select(
                Release.canonical_key, Release.kind, Release.epsilon_micro, Release.failed
            ).order_by(Release.id)
        ).all()
        spent = s.execute(select(Dataset.spent_micro)).all()
    return {"audit": audit, "ledger": ledger, "releases": kept, "spent": spent}
