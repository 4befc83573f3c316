"""Re-exports, reordered and cumulative exports add only new cases (keyed case_ref hashes)."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from etl import bound
from etl.errors import LoadRefused
from etl.load import load_file
from schema.models import DatasetVersion, LoadedCaseRef
from schema.repositories.warehouse import count_cases

from .helpers import HEADER, case, options, write_export


def _total(engine, number=None):
    with Session(engine) as s:
        query = select(DatasetVersion.id).order_by(DatasetVersion.number.desc())
        if number is not None:
            query = query.where(DatasetVersion.number == number)
        vid = s.scalars(query).first()
        return sum(count_cases(s, vid, ["year"]).values())


def _month(m, n):
    return [
        case(case_ref=f"R-{m}-{i}", contact_key=f"p{m}-{i}@x.pk", received_on=f"2024-{m:02d}-03")
        for i in range(n)
    ]


def test_a_reexport_with_one_more_newline_or_another_order_adds_nothing(engine, tmp_path):
    rows = _month(1, 40) + _month(2, 30)
    first = load_file(write_export(tmp_path / "a.csv", rows), engine, options())
    assert first.cases_loaded == 70 and first.duplicates_skipped == 0
    again = write_export(tmp_path / "b.csv", rows)
    again.write_bytes(again.read_bytes() + b"\n")
    second = load_file(again, engine, options())
    assert not second.unchanged  # another file hash: only the case references guard it
    assert (second.rows_read, second.duplicates_loaded_before, second.cases_loaded) == (70, 70, 0)
    shuffled = load_file(write_export(tmp_path / "c.csv", rows[::-1]), engine, options())
    assert (shuffled.duplicates_skipped, shuffled.cases_loaded) == (70, 0)
    assert _total(engine) == 70
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(LoadedCaseRef)) == 70


def test_a_cumulative_export_adds_only_this_months_cases(engine, tmp_path):
    january = _month(1, 25)
    load_file(write_export(tmp_path / "jan.csv", january), engine, options())
    cumulative = _month(2, 10) + january  # February's export repeats January's cases
    report = load_file(write_export(tmp_path / "feb.csv", cumulative), engine, options())
    assert (report.duplicates_loaded_before, report.cases_loaded) == (25, 10)
    assert report.balanced()
    assert _total(engine) == 35


def test_a_case_ref_repeated_in_one_file_counts_once_and_keeps_its_first_record(engine, tmp_path):
    rows = [
        case(case_ref="R-1", contact_key="a@x.pk", complaint_type="NCII"),
        case(case_ref="R-2", contact_key="b@x.pk"),
        case(case_ref=" R-1 ", contact_key="a@x.pk", complaint_type="HACKING"),
    ]
    report = load_file(write_export(tmp_path / "x.csv", rows), engine, options())
    assert (report.duplicates_within_file, report.cases_loaded) == (1, 2)
    with Session(engine) as s:
        assert count_cases(s, 1, ["complaint_type"]) == {("NCII",): 1, ("BLACKMAIL",): 1}


def test_a_skipped_duplicate_does_not_use_up_the_person_bound(engine, tmp_path):
    person = "0300-7770001"
    a = case(case_ref="A", contact_key=person, received_on="2024-01-05")
    load_file(write_export(tmp_path / "1.csv", [a]), engine, options())
    b = case(case_ref="B", contact_key="+92 300 7770001", received_on="2024-02-05")
    c = case(case_ref="C", contact_key="03007770001", received_on="2024-03-05")
    report = load_file(write_export(tmp_path / "2.csv", [a, a, b, c]), engine, options())
    # A is skipped (twice), B fills the bound of 2, C is cut: A must not count again.
    assert report.duplicates_skipped == 2
    assert (report.cases_loaded, report.cases_cut_by_person_bound) == (1, 1)
    assert _total(engine) == 2


def test_a_case_cut_by_the_bound_is_a_duplicate_when_exported_again(engine, tmp_path):
    rows = [case(case_ref=f"K-{i}", contact_key="same@x.pk") for i in range(3)]
    first = load_file(write_export(tmp_path / "a.csv", rows), engine, options())
    assert (first.cases_loaded, first.cases_cut_by_person_bound) == (2, 1)
    again = load_file(write_export(tmp_path / "b.csv", rows[::-1]), engine, options())
    assert (again.duplicates_loaded_before, again.cases_cut_by_person_bound) == (3, 0)


def test_many_buckets_give_the_same_result_as_one(engine, tmp_path, monkeypatch):
    rows = [
        case(case_ref=f"B-{i % 700}", contact_key=f"p{i % 300}@x.pk", received_on="2024-05-05")
        for i in range(900)
    ]
    path = write_export(tmp_path / "x.csv", rows)
    one = load_file(path, engine, options(dataset="one"))
    monkeypatch.setattr(bound, "BUCKET_BYTES", 256)  # about 6 cases a bucket: 256 buckets
    many = load_file(path, engine, options(dataset="many"))
    fields = ("duplicates_within_file", "cases_cut_by_person_bound", "cases_loaded")
    assert [getattr(one, f) for f in fields] == [getattr(many, f) for f in fields]
    assert one.duplicates_within_file == 200 and one.cases_loaded == 600


def test_an_export_without_case_ref_needs_no_case_ref(engine, tmp_path):
    header = [h for h in HEADER if h != "case_ref"]
    path = write_export(tmp_path / "x.csv", [case(), case(contact_key="b@x.pk")], header=header)
    with pytest.raises(LoadRefused, match=r"no case_ref column.*--no-case-ref"):
        load_file(path, engine, options())
    report = load_file(path, engine, options(no_case_ref=True))
    assert report.cases_loaded == 2 and not report.case_refs
    assert "only its SHA-256 guards" in report.text()
    assert "not checked (no case_ref)" in report.text()
    assert report.warnings and report.as_json()["case_refs"] is False
    assert load_file(path, engine, options(no_case_ref=True)).unchanged


def test_a_blank_case_ref_is_rejected(engine, tmp_path):
    rows = [case(contact_key=f"p{i}@x.pk") for i in range(120)] + [case(case_ref=" ")]
    report = load_file(write_export(tmp_path / "x.csv", rows), engine, options())
    assert report.rejects_by_reason == {"case_ref: required value is blank": 1}
