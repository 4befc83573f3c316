"""Declared coverage: public metadata comes from what loads declare, never from the data."""

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.cli import main
from etl.coverage import Coverage
from etl.errors import LoadRefused
from etl.load import load_file
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import DatasetVersion, LoadBatch

from .helpers import case, options, write_export

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("2024-01", "two months"),
        ("2024-1:2024-12", "two months"),
        ("2024-01:2024-12 ", "two months"),
        ("٢٠٢٤-01:2024-12", "two months"),  # Arabic-Indic digits are not ASCII
        ("２０２４-01:2024-12", "two months"),
        ("2024-00:2024-12", "01 to 12"),
        ("2024-01:2024-13", "01 to 12"),
        ("2024-12:2024-01", "not be after"),
        ("2015-01:2024-12", "before 2016-01"),
        ("2024-01:2027-01", "after the current month"),
    ],
)
def test_covers_is_parsed_strictly(raw, problem):
    with pytest.raises(ValueError, match=problem):
        Coverage.parse(raw, today=TODAY)


def test_covers_accepts_the_current_month_and_a_single_month():
    assert Coverage.parse("2017-01:2026-12", today=TODAY) == Coverage("2017-01", "2026-12")
    assert Coverage.parse("2024-05:2024-05", today=TODAY).month_indexes()[0] == 24 * 12 + 4


def test_the_cli_names_covers_when_it_is_missing_or_malformed(tmp_path):
    path = write_export(tmp_path / "x.csv", [case()])
    runner = CliRunner()
    base = ["etl", "load", str(path), "--dataset", "d", "--demo-key"]
    missing = runner.invoke(main, base)
    assert missing.exit_code == 2 and "--covers" in missing.output
    assert "YYYY-MM:YYYY-MM" in missing.output
    bad = runner.invoke(main, [*base, "--covers", "2024-01/2024-12"])
    assert bad.exit_code == 2 and "--covers" in bad.output and "two months" in bad.output


def _versions(engine):
    with Session(engine) as s:
        rows = s.execute(
            select(DatasetVersion.number, DatasetVersion.first_month, DatasetVersion.last_month)
        ).all()
    return [tuple(r) for r in sorted(rows)]


def test_rows_outside_the_declared_period_are_rejected_by_reason(engine, tmp_path):
    rows = [case(contact_key=f"p{i}@x.pk") for i in range(150)]
    rows.append(case(received_on="2023-12-31", contact_key="early@x.pk"))
    report = load_file(write_export(tmp_path / "x.csv", rows), engine, options())
    assert (report.rows_rejected, report.cases_loaded) == (1, 150)
    assert report.rejects_by_reason == {
        "received_on: date outside the period the load declares it covers (--covers)": 1
    }
    assert "2023-12-31" not in (tmp_path / "x.csv.rejects.csv").read_text()


def test_coverage_does_not_depend_on_the_data(engine, tmp_path):
    """Two exports that differ by one case a month later declare, and so show, the same."""
    base = [case(contact_key=f"p{i}@x.pk", received_on="2024-03-01") for i in range(3)]
    one_more = [*base, case(contact_key="z@x.pk", received_on="2024-04-02")]
    covers = Coverage("2024-01", "2024-06")
    load_file(write_export(tmp_path / "a.csv", base), engine, options(covers=covers))
    load_file(
        write_export(tmp_path / "b.csv", one_more), engine, options(dataset="b", covers=covers)
    )
    assert _versions(engine) == [(1, "2024-01", "2024-06"), (1, "2024-01", "2024-06")]


def test_a_version_covers_the_union_of_its_batches_and_a_gap_is_refused(engine, tmp_path):
    def load(name, covers, **kw):
        rows = [case(contact_key=f"{name}@x.pk", received_on=covers[:7] + "-02")]
        path = write_export(tmp_path / f"{name}.csv", rows)
        return load_file(path, engine, options(covers=Coverage(covers[:7], covers[8:]), **kw))

    first = load("a", "2024-01:2024-06")
    assert (first.covers, first.version_covers) == ("2024-01:2024-06", "2024-01:2024-06")
    assert load("b", "2024-07:2024-09").version_covers == "2024-01:2024-09"  # adjoins
    assert load("c", "2023-10:2024-02").version_covers == "2023-10:2024-09"  # overlaps
    with pytest.raises(LoadRefused, match=r"leaves a gap.*2023-10 to 2024-09"):
        load("d", "2024-11:2024-12")
    assert load("e", "2024-03:2024-04").version_covers == "2023-10:2024-09"  # inside
    assert [v[1:] for v in _versions(engine)][-1] == ("2023-10", "2024-09")
    with Session(engine) as s:
        declared = s.execute(
            select(LoadBatch.covers_first, LoadBatch.covers_last).order_by(LoadBatch.id)
        ).all()
    assert [tuple(d) for d in declared] == [
        ("2024-01", "2024-06"),
        ("2024-07", "2024-09"),
        ("2023-10", "2024-02"),
        ("2024-03", "2024-04"),
    ]


def test_reloading_a_file_with_another_period_is_refused(engine, tmp_path):
    path = write_export(tmp_path / "x.csv", [case()])
    load_file(path, engine, options())
    assert load_file(path, engine, options()).unchanged
    with pytest.raises(LoadRefused, match="already loaded as version 1 declaring --covers"):
        load_file(path, engine, options(covers=Coverage("2024-01", "2024-11")))


def test_the_migration_declares_existing_versions_months_and_fences_old_batches(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (id, slug, title, max_cases_per_person,"
                " max_vulnerable_groups, max_referrals, cap_micro, spent_micro,"
                " max_per_query_micro, created_at)"
                " VALUES (1, 'helpline-cases', 'D', 2, 2, 3, 10000000, 0, 500000, '2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO dataset_versions (id, dataset_id, number, codelist_version,"
                " first_month, last_month, created_at)"
                " VALUES (7, 1, 1, '1', '2017-01', '2024-12', '2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO load_batches (dataset_id, version_id, file_sha256, file_name,"
                " rows_read, rows_rejected, cases_cut_by_person_bound,"
                " values_cut_by_multi_value_bound, cases_loaded, loaded_at)"
                " VALUES (1, 7, 'abc', 'old.csv', 10, 0, 0, 0, 10, '2025-01-01')"
            )
        )
    upgrade(url)
    with engine.connect() as conn:
        batch = conn.execute(
            text(
                "SELECT covers_first, covers_last, pipeline_version, consent_refused,"
                " duplicates_skipped FROM load_batches"
            )
        ).one()
        blank = conn.execute(text("SELECT blank_is_consent FROM datasets")).scalar_one()
    assert tuple(batch) == ("2017-01", "2024-12", 1, 0, 0)
    assert not blank
    assert _versions(engine) == [(1, "2017-01", "2024-12")]
    path = write_export(tmp_path / "new.csv", [case()])
    with pytest.raises(LoadRefused, match="before contact keys were normalised"):
        load_file(path, engine, options())
    engine.dispose()
