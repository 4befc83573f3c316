from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from etl.coverage import Coverage
from etl.errors import LoadRefused
from etl.load import load_file
from schema.models import Base, DatasetVersion, PersonContribution
from schema.repositories.warehouse import count_cases

from .helpers import HEADER, case, options, write_export


def _table_counts(engine):
    with Session(engine) as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


def _counts(engine, version, group_by, filters=None):
    with Session(engine) as s:
        vid = s.scalar(select(DatasetVersion.id).where(DatasetVersion.number == version))
        return count_cases(s, vid, group_by, filters)


def test_load_aggregates_cases_and_reports(engine, tmp_path):
    rows = [
        case(contact_key="a@x.pk", gender="F", vulnerable_groups="MINOR;JOURNALIST"),
        case(contact_key="b@x.pk", gender="M", referrals="FIA;POLICE"),
        case(contact_key="c@x.pk", gender="female", received_on="2023-12-01"),
    ]
    covers = Coverage("2023-12", "2024-12")
    report = load_file(write_export(tmp_path / "x.csv", rows), engine, options(covers=covers))
    assert (report.version, report.rows_read, report.rows_rejected, report.cases_loaded) == (
        1,
        3,
        0,
        3,
    )
    assert report.cases_loaded_by_year == {"2023": 1, "2024": 2}
    assert "cnic" in report.columns_dropped and "complainant_name" in report.columns_dropped
    assert _counts(engine, 1, ["gender"]) == {("F",): 2, ("M",): 1}
    assert _counts(engine, 1, ["vulnerable_group"]) == {("MINOR",): 1, ("JOURNALIST",): 1}
    assert _counts(engine, 1, ["referral"]) == {("FIA",): 1, ("POLICE",): 1, ("LEGAL_AID",): 2}
    assert _counts(engine, 1, ["gender"], {"vulnerable_group": ["MINOR", "HRD"]}) == {("F",): 1}
    assert _counts(engine, 1, ["year"], {"province": ["PB"]}) == {("2023",): 1, ("2024",): 2}


def test_person_bound_keeps_the_earliest_cases_across_batches(engine, tmp_path):
    first = [case(contact_key="0300-5550001", received_on="2024-02-10", complaint_type="NCII")]
    load_file(write_export(tmp_path / "a.csv", first), engine, options())
    second = [
        case(contact_key="+92 300 5550001", received_on="2024-04-01", complaint_type="THREATS"),
        case(contact_key="03005550001", received_on="2024-01-15", complaint_type="HACKING"),
        case(contact_key="0300 5550001", received_on="2024-05-01", complaint_type="DOXXING"),
        case(contact_key="someone@else.pk", received_on="2024-05-01", complaint_type="DOXXING"),
    ]
    report = load_file(write_export(tmp_path / "b.csv", second), engine, options())
    assert report.version == 2
    assert report.cases_cut_by_person_bound == 2
    assert report.cases_loaded == 2
    assert _counts(engine, 2, ["complaint_type"]) == {
        ("NCII",): 1,
        ("HACKING",): 1,
        ("DOXXING",): 1,
    }
    assert _counts(engine, 1, ["complaint_type"]) == {("NCII",): 1}
    with Session(engine) as s:
        assert sorted(s.scalars(select(PersonContribution.cases))) == [1, 2]
    third = [case(contact_key="0300-5550001", received_on="2023-01-01")]
    covers = Coverage("2023-01", "2024-12")
    report = load_file(write_export(tmp_path / "c.csv", third), engine, options(covers=covers))
    assert (report.cases_loaded, report.cases_cut_by_person_bound) == (0, 1)


def test_reloading_a_file_changes_nothing(engine, tmp_path):
    path = write_export(tmp_path / "x.csv", [case(), case(contact_key="z@z.pk")])
    load_file(path, engine, options())
    before = _table_counts(engine)
    report = load_file(path, engine, options())
    assert report.unchanged and report.version == 1 and report.cases_loaded == 0
    assert _table_counts(engine) == before


def _refused(engine, path, message, **opts):
    before = _table_counts(engine)
    with pytest.raises(LoadRefused, match=message):
        load_file(path, engine, options(**opts))
    assert _table_counts(engine) == before


def test_refuses_missing_required_column(engine, tmp_path):
    header = [h for h in HEADER if h != "gender"]
    path = write_export(tmp_path / "x.csv", [case()], header=header)
    _refused(engine, path, "missing required column.*gender")


def test_refuses_empty_and_header_only_files(engine, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _refused(engine, empty, "the file is empty")
    bom_only = tmp_path / "bom.csv"
    bom_only.write_bytes(b"\xef\xbb\xbf\r\n")
    _refused(engine, bom_only, "the file is empty")
    _refused(engine, write_export(tmp_path / "h.csv", []), "header but no rows")


def test_refuses_files_that_are_not_csv_text(engine, tmp_path):
    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    _refused(engine, png, "not a CSV export")
    latin = write_export(tmp_path / "l.csv", [case(case_notes="café")], encoding="latin-1")
    _refused(engine, latin, "not UTF-8")


def test_refuses_when_too_many_rows_are_rejected(engine, tmp_path):
    rows = [case(contact_key=f"p{i}@x.pk") for i in range(98)]
    rows += [case(gender=""), case(complaint_type="nonsense")]
    path = write_export(tmp_path / "x.csv", rows)
    _refused(engine, path, r"2 of 100 rows rejected \(2.00%\)", max_reject_rate=0.01)
    rejects = (tmp_path / "x.csv.rejects.csv").read_text()
    assert "gender,required value is blank" in rejects
    report = load_file(path, engine, options(max_reject_rate=0.05))
    assert (report.rows_rejected, report.cases_loaded) == (2, 98)


def test_rejects_file_never_holds_identifying_values(engine, tmp_path):
    rows = [case(contact_key=f"p{i}@x.pk") for i in range(200)]
    # A shifted row: the phone number lands in the complaint type column.
    rows.append(case(complaint_type="0300-9876543", contact_key="", complainant_name="Hina Raza"))
    path = write_export(tmp_path / "x.csv", rows)
    report = load_file(path, engine, options())
    text = Path(report.rejects_file).read_text()
    assert "complaint_type" in text and "contact_key" in text
    for secret in ("0300-9876543", "Hina Raza", "35202-1234567-1", "House 1"):
        assert secret not in text
        assert secret not in report.text()


def test_odd_but_valid_csv(engine, tmp_path):
    header = [h.upper() for h in reversed(HEADER)] + ["Extra Column"]
    rows = [
        case(
            contact_key="a@x.pk",
            case_notes="line one\nline two, with comma",
            complainant_name="ثنا ملک",
            address="گلی 4، لاہور",
        ),
        case(contact_key="b@x.pk", case_notes='He said "stop", then left'),
    ]
    path = write_export(
        tmp_path / "x.csv", rows, header=header, encoding="utf-8-sig", newline="\r\n"
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = load_file(path, engine, options())
    assert (report.rows_read, report.rows_rejected, report.cases_loaded) == (2, 0, 2)
    assert "extra column" in report.columns_dropped


def test_row_with_wrong_field_count_is_rejected(engine, tmp_path):
    path = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(150)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("only,three,fields\n")
    report = load_file(path, engine, options())
    assert (report.rows_read, report.rows_rejected) == (151, 1)
    assert "152,*,wrong number of fields" in Path(report.rejects_file).read_text()


def test_parallel_ranges_give_the_same_result_as_one_process(engine, tmp_path):
    rows = [
        case(
            contact_key=f"p{i % 180}@x.pk",
            received_on=f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            case_notes=f'line one\nline "{i}", two',
            gender="F" if i % 3 else "M",
        )
        for i in range(400)
    ]
    rows.insert(123, case(gender=""))
    path = write_export(tmp_path / "x.csv", rows)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("only,three,fields\n")
    parallel = load_file(path, engine, options(range_bytes=2048, workers=2))
    assert (parallel.rows_read, parallel.rows_rejected) == (402, 2)
    assert parallel.cases_loaded == 360  # 180 people, 2 cases each
    rejects = Path(parallel.rejects_file).read_text()
    assert "125,gender,required value is blank" in rejects
    assert "403,*,wrong number of fields for the header" in rejects
    single = load_file(path, engine, options(dataset="other", workers=1))
    assert (single.rows_read, single.rows_rejected, single.cases_loaded) == (402, 2, 360)
    assert single.cases_cut_by_person_bound == parallel.cases_cut_by_person_bound == 40
    assert single.cases_loaded_by_year == parallel.cases_loaded_by_year
    with Session(engine) as s:
        versions = s.scalars(select(DatasetVersion.id).order_by(DatasetVersion.id)).all()
        assert len(versions) == 2
        for group_by in (["gender"], ["month"], ["complaint_type", "referral"]):
            assert count_cases(s, versions[0], group_by) == count_cases(s, versions[1], group_by)


def test_buckets_cover_every_pseudonym_once(tmp_path):
    import numpy as np

    from etl.bound import Buckets

    for count_hint in (1, 10_000_000, 100_000_000):
        b = Buckets.for_size(count_hint, tmp_path)
        pids = np.array([-(2**63), -1, 0, 1, 2**63 - 1, 123456789, -987654321], dtype=np.int64)
        which = b.bucket_of(pids)
        for pid, bucket in zip(pids.tolist(), which.tolist(), strict=True):
            lo, hi = b.range_of(bucket)
            assert lo <= pid <= hi
            others = [b.range_of(o) for o in range(b.count) if o != bucket]
            assert not any(lo2 <= pid <= hi2 for lo2, hi2 in others)
        for f in b.files:
            f.unlink()
