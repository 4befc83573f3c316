"""Every record is loaded or the file is refused: line endings, limits, and the balance."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from etl import dedupe
from etl.errors import LoadRefused
from etl.load import load_file
from etl.records import ReadLimits
from schema.models import Base
from schema.repositories import loads

from .helpers import HEADER, case, options, write_export
from .test_pseudonym import SPELLINGS


def _table_counts(engine):
    with Session(engine) as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


def _refused(engine, path, message, **opts):
    before = _table_counts(engine)
    with pytest.raises(LoadRefused, match=message):
        load_file(path, engine, options(**opts))
    assert _table_counts(engine) == before


def _rows(n, **fields):
    notes = 'line one\nline "two", three\r\nfour'  # CR and LF inside quotes are data
    return [case(contact_key=f"p{i}@x.pk", case_notes=notes, **fields) for i in range(n)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lf_and_crlf_load_every_record(engine, tmp_path, newline):
    path = write_export(tmp_path / "x.csv", _rows(300), newline=newline)
    report = load_file(path, engine, options(range_bytes=4096, workers=2))
    assert (report.rows_read, report.cases_loaded) == (300, 300)


def test_lf_and_crlf_mixed_load_every_record(engine, tmp_path):
    lf = write_export(tmp_path / "a.csv", _rows(100)).read_bytes()
    lines = lf.split(b"\n")
    mixed = b"".join(line + (b"\r\n" if i % 3 else b"\n") for i, line in enumerate(lines[:-1]))
    path = tmp_path / "x.csv"
    path.write_bytes(mixed + b"\n\n\r\n")  # blank lines at the end are not records
    report = load_file(path, engine, options(range_bytes=2048))
    assert (report.rows_read, report.cases_loaded) == (100, 100)


def test_cr_only_line_endings_are_refused_not_half_loaded(engine, tmp_path):
    """Issue 10, finding 8: old-Mac endings lost a megabyte of rows and exited 0."""
    rows = _rows(20_000)
    for r in rows:
        r["case_notes"] = "no line breaks"
    path = write_export(tmp_path / "x.csv", rows, newline="\r")
    assert path.stat().st_size > 2 << 20 and b"\n" not in path.read_bytes()
    _refused(engine, path, "CR alone.*LF or CRLF")


def test_a_cr_alone_after_the_header_is_refused_with_its_place(engine, tmp_path):
    text = write_export(tmp_path / "a.csv", _rows(50)).read_text("utf-8")
    lines = text.split("\n")
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines[:10]) + "\r" + "\n".join(lines[10:]), "utf-8", newline="")
    _refused(engine, path, r"CR alone .*\(record \d+, byte [\d,]+\)")


def test_a_stray_quote_in_an_unquoted_field_is_refused_not_misread(engine, tmp_path):
    path = write_export(tmp_path / "x.csv", _rows(30))
    text = path.read_text("utf-8").replace("Sana Malik", 'Sana "Sunny Malik', 1)
    path.write_text(text, "utf-8", newline="")
    _refused(engine, path, "quote (characters do not pair up|left open)")


@pytest.mark.parametrize(
    ("limits", "edit", "message"),
    [
        (ReadLimits(max_field_chars=2048), {"case_notes": "x" * 5000}, "field is longer than"),
        (
            ReadLimits(max_field_chars=2048, max_record_bytes=4096),
            {"case_notes": "x" * 2000, "address": "y" * 2000, "officer": "z" * 2000},
            "record is longer than the limit of 4,096 bytes",
        ),
    ],
)
def test_records_past_the_limits_are_refused_naming_the_limit(
    engine, tmp_path, limits, edit, message
):
    rows = _rows(40)
    rows[25].update(edit)
    path = write_export(tmp_path / "x.csv", rows)
    _refused(engine, path, rf"{message}.*\(record 27, byte", read_limits=limits)


def test_too_many_columns_are_refused(engine, tmp_path):
    header = HEADER + [f"extra_{i}" for i in range(200)]
    path = write_export(tmp_path / "x.csv", [case()], header=header)
    _refused(engine, path, f"{len(header)} columns, more than the limit of 200")


def test_a_report_that_does_not_balance_is_refused(engine, tmp_path, monkeypatch):
    real = dedupe.first_new

    def loses_one(cases, prior):
        new, within, before = real(cases, prior)
        return new[1:], within, before  # a case dropped without being counted

    monkeypatch.setattr(dedupe, "first_new", loses_one)
    _refused(engine, write_export(tmp_path / "x.csv", _rows(5)), "does not add up")


def test_one_person_in_many_spellings_is_one_person_in_a_file_and_across_batches(engine, tmp_path):
    first = [
        case(contact_key=s, received_on=f"2024-01-{i + 1:02d}") for i, s in enumerate(SPELLINGS[:8])
    ]
    report = load_file(write_export(tmp_path / "a.csv", first), engine, options())
    assert (report.cases_loaded, report.cases_cut_by_person_bound) == (2, 6)
    later = [case(contact_key=s, received_on="2024-02-01") for s in SPELLINGS[8:]]
    report = load_file(write_export(tmp_path / "b.csv", later), engine, options())
    assert (report.cases_loaded, report.cases_cut_by_person_bound) == (0, len(SPELLINGS) - 8)


def test_case_ref_hashes_keep_64_bits_exactly(engine):
    extremes = [-(2**63), -1, 0, 1, 2**63 - 1]
    import numpy as np

    with engine.begin() as conn:
        loads.add_case_refs(conn, 9, np.array(extremes, dtype=np.int64))
        got = loads.prior_case_refs(conn, 9, -(2**63), 2**63 - 1)
    assert got.tolist() == extremes


def test_a_refusal_in_a_worker_names_the_record_in_the_whole_file(engine, tmp_path):
    rows = _rows(600)
    rows[550]["complainant_name"] = "Sana\x00Malik"  # record 552: the header is record 1
    path = write_export(tmp_path / "x.csv", rows)
    assert path.read_bytes().index(b"\x00") > 65536  # past the first look at the file
    _refused(engine, path, r"NUL byte .*\(record 552, byte", range_bytes=4096, workers=2)
