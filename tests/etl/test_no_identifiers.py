"""After a load, no identifying value from the raw export is anywhere in the warehouse."""

import csv
import logging
import subprocess

import pytest
from sqlalchemy.engine import make_url

from etl.load import load_file
from etl.pseudonym import normalise_contact
from etl.synth import SynthOptions, write_export

from .helpers import options

IDENTIFYING = [
    "case_ref",
    "contact_key",
    "complainant_name",
    "phone",
    "email",
    "cnic",
    "address",
    "case_notes",
    "officer",
]
SHINGLE = 8


def _identifying_values(path):
    values = set()
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for column in IDENTIFYING:
                v = row[column].strip()
                if len(v) >= SHINGLE:
                    values.add(v)
            values.add(normalise_contact(row["contact_key"]))
    return {v for v in values if len(v) >= SHINGLE}


def _assert_absent(values, blob: bytes, where: str):
    shingles = {blob[i : i + SHINGLE] for i in range(len(blob) - SHINGLE + 1)}
    leaked = [v for v in values if v.encode()[:SHINGLE] in shingles and v.encode() in blob]
    assert not leaked, f"{len(leaked)} identifying values found in {where}: e.g. {leaked[:1]}"


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=3))
    return path


def test_sqlite_file_holds_no_identifier(tmp_path, export, caplog, sqlite_template):
    db = tmp_path / "w.db"
    db.write_bytes(sqlite_template.read_bytes())
    from schema.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    with caplog.at_level(logging.DEBUG):
        report = load_file(export, engine, options())
    engine.dispose()
    values = _identifying_values(export)
    assert len(values) > 5000
    files = sorted(tmp_path.glob("w.db*"))  # the database, and any WAL or shared-memory file
    blob = b"".join(f.read_bytes() for f in files)
    assert b"case_counts" in blob
    _assert_absent(values, blob, f"the SQLite files {[f.name for f in files]}")
    _assert_absent(values, caplog.text.encode(), "the logs")
    _assert_absent(values, report.text().encode(), "the load report")


@pytest.mark.postgres
def test_postgres_dump_holds_no_identifier(export, pg_databases):
    from schema.db import make_engine
    from schema.migrate import upgrade

    url = pg_databases.create()
    upgrade(url)
    engine = make_engine(url)
    load_file(export, engine, options())
    engine.dispose()
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(["pg_dump", libpq], check=True, capture_output=True).stdout
    assert b"person_contributions" in dump and b"case_counts" in dump
    _assert_absent(_identifying_values(export), dump, "the PostgreSQL dump")
