"""Benchmark: publishing summaries through the service on the demo data (issue 12).

``amaan demo``'s export (``etl.synth``, 2017 to 2024, seed 1, 40 dirty rows) is loaded by the
real loader into a scratch SQLite warehouse in ``bench/out``; a staff account then publishes
the default summary and the annual report (year 2024) at ε 1 each through
``api.answers.answer`` (checks, claim and charge, one GROUP BY per table, OpenDP
measurements, storing), and one covered query is answered from each (the first rebuilds and
reconciles the summary). Run: ``python -m bench.summary_service``.
"""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from api import answers
from api.releases import CountQuery
from bench.summary_data import BOUND, MONTHS, OUT
from etl.coverage import Coverage
from etl.load import LoadOptions, load_file
from etl.synth import SynthOptions, write_export
from schema.db import make_engine
from schema.migrate import upgrade
from schema.repositories import accounts
from schema.repositories.audit_verify import KEY_INFO
from schema.settings import DEMO_PSEUDONYM_KEY, Settings


def main() -> None:
    OUT.mkdir(exist_ok=True)
    export = OUT / "helpline-export-2017-2024-seed1.csv"
    if not export.exists():
        write_export(export, SynthOptions(seed=1, dirty=40))
    db = OUT / "summary-service.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    options = LoadOptions(
        dataset="helpline-cases",
        pseudonym_key=DEMO_PSEUDONYM_KEY.encode(),
        covers=Coverage(MONTHS[0], MONTHS[-1]),
        max_cases_per_person=BOUND,
    )
    load_file(export, engine, options)
    settings = Settings(database_url=url, environment="test")
    with Session(engine, info={KEY_INFO: settings.audit_secret()}) as s, s.begin():
        staff = accounts.create_account(s, name="bench", role="admin")
        researcher = accounts.create_account(s, name="reader", role="researcher")
        dataset_id = 1
        accounts.grant(s, researcher.id, dataset_id)
        accounts.set_account_budget(s, researcher.id, dataset_id, 1_000_000)
        staff_id, reader_id = staff.id, researcher.id
    print("| summary | publish (s) | slices | charged ε | first derived query (s) |")
    print("|---|---:|---:|---:|---:|")
    for template, year, group_by in (
        ("default", None, ["month", "complaint_type", "gender"]),
        ("annual-report", 2024, ["year", "gender"]),
    ):
        with Session(engine, info={KEY_INFO: settings.audit_secret()}) as s, s.begin():
            staff = accounts.get_account(s, staff_id)
            assert staff is not None
            start = time.perf_counter()
            ask = answers.Summarise("helpline-cases", template, "1", year)
            published = answers.answer(s, staff, ask, settings)
            took = time.perf_counter() - start
            measured = published.summary.measured
            charged = published.epsilon_charged
        with Session(engine, info={KEY_INFO: settings.audit_secret()}) as s, s.begin():
            reader = accounts.get_account(s, reader_id)
            assert reader is not None
            start = time.perf_counter()
            query = CountQuery("helpline-cases", group_by, epsilon="0.1", source="summary")
            answers.answer(s, reader, answers.Count(query), settings)
            derived = time.perf_counter() - start
        print(f"| {template} | {took:.2f} | {measured:,} | {charged} | {derived:.2f} |")
    engine.dispose()


if __name__ == "__main__":
    main()
