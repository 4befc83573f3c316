"""A corpus of hostile exports through the real ``amaan etl load`` (issue 10, fuzzing).

Each file loads completely (every record counted: loaded, rejected, refused, duplicate or
cut) or is refused with a reason, within 10 s (a hang guard, not a timing test: the
command's start-up, measured on this machine as it is, is allowed on top); and no
identifying value from it appears anywhere the command leaves a trace: stdout, stderr, the
rejects file, the SQLite database and its side files.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import HEADER, case, write_export

pytestmark = pytest.mark.slow  # each hostile file is megabytes, loaded on both backends

AMAAN = str(Path(sys.executable).with_name("amaan"))
SECRETS = {
    "complainant_name": "Hina Raza-Qureshi",
    "phone": "0300-9876543",
    "email": "hina.raza@example.pk",
    "cnic": "35202-7654321-9",
    "address": "House 77, Street 9, Gulberg",
    "case_notes": "secret notes about Hina",
    "officer": "Officer Tariq Mehmood",
}
FORMULA = "=cmd|' /C calc'!A0"
# Identifying values, as written and as the loader would normalise them.
IDENTIFYING = [*SECRETS.values(), "+923009876543", "03009876543", "CASE-REF-", FORMULA]


def _rows(n=150, **fields):
    return [
        case(
            case_ref=f"CASE-REF-{i:05d}",
            contact_key=SECRETS["phone"] if i % 2 else SECRETS["email"],
            **{**SECRETS, **fields},
        )
        for i in range(n)
    ]


def _csv(tmp, rows=None, **kw):
    return write_export(tmp / "base.csv", _rows() if rows is None else rows, **kw).read_bytes()


def _lines(tmp):
    return _csv(tmp).split(b"\n")


def _formulas(tmp):
    rows = _rows()
    rows[3].update(contact_key=FORMULA, complaint_type='=HYPERLINK("http://x.pk")')
    rows[4].update(case_notes="+SUM(A1:A9)", gender="@F")
    return _csv(tmp, rows)


def _nul_late(tmp):
    data = _csv(tmp, _rows(900))
    at = data.rfind(b"Gulberg")
    return data[:at] + b"\x00" + data[at:]


def _bom_inside(tmp):
    one, two = _csv(tmp, _rows(80)), _csv(tmp, _rows(80)[::-1])
    return b"\xef\xbb\xbf" + one + b"\xef\xbb\xbf" + two  # two exports joined


def _long_field(tmp):
    rows = _rows()
    rows[70]["case_notes"] = "x" * (10 << 20)
    return _csv(tmp, rows)


def _long_contacts(tmp):
    rows = _rows()
    for i, r in enumerate(rows[:20]):  # near the field limit; a backtracking check took seconds
        r["contact_key"] = f"x{i}@" + "a." * 30_000 + " b"
    rows[20]["contact_key"] = "9" * 60_000
    return _csv(tmp, rows)


CORPUS = {
    # name: (file bytes, records it holds if it loads, or the refusal's reason)
    "cr only": (lambda t: _csv(t, newline="\r"), "CR alone"),
    "cr mixed with lf": (
        lambda t: b"\n".join(_lines(t)[:40]) + b"\r" + b"\n".join(_lines(t)[40:]),
        "CR alone",
    ),
    "crlf mixed with lf": (
        lambda t: b"\r\n".join(_lines(t)[:70]) + b"\n" + b"\n".join(_lines(t)[70:]),
        150,
    ),
    "nul bytes": (lambda t: _csv(t).replace(b"secret notes", b"secret\x00notes", 9), "NUL|binary"),
    "nul bytes late": (_nul_late, "NUL byte"),
    "utf-16": (lambda t: _csv(t).decode("utf-8").encode("utf-16"), "UTF-16"),
    "utf-16 without bom": (lambda t: _csv(t).decode("utf-8").encode("utf-16-le"), "binary"),
    "latin-1": (
        lambda t: _csv(t, _rows(case_notes="café, naïve")).decode("utf-8").encode("latin-1"),
        "not UTF-8",
    ),
    "10 MB field": (_long_field, "longer than the limit"),
    "10 MB line": (lambda t: b"a," * (5 << 20), "longer than the limit"),
    "1,000,000 columns": (
        lambda t: ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n",
        "longer than the limit",
    ),
    "300 columns": (
        lambda t: (",".join(HEADER + [f"x{i}" for i in range(300)]) + "\n1\n").encode(),
        "limit of 200",
    ),
    "unclosed quote": (
        lambda t: _csv(t) + b'CASE-REF-X,2024-01-01,"0300-9876543,unclosed\n' * 3,
        "never closed|left open",
    ),
    "unclosed quote, long": (
        lambda t: _csv(t) + b'"' + b"Hina Raza-Qureshi\n" * 90_000,
        "left open",
    ),
    "duplicate headers": (
        lambda t: _csv(t).replace(b"platform", b"gender", 1),
        "names a column twice: gender",
    ),
    "duplicate odd headers": (
        lambda t: (
            _csv(t).replace(b"officer", b"0300-9876543").replace(b"case_notes", b"0300-9876543")
        ),
        "not shown",
    ),
    "formula cells": (_formulas, 150),
    "long hostile contact keys": (_long_contacts, 150),
    "bom in the middle": (_bom_inside, 161),
    "empty": (lambda t: b"", "empty"),
    "only a bom and newlines": (lambda t: b"\xef\xbb\xbf\r\n\n", "empty"),
    "header only": (lambda t: _csv(t, []), "header but no rows"),
    "header only, no newline": (lambda t: _csv(t, []).rstrip(), "header but no rows"),
    "stray quote": (lambda t: _csv(t).replace(b"Hina Raza", b'Hina "Raza', 1), "quote"),
    "png": (lambda t: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10, "binary"),
}


def _run(path: Path, db: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{db}"
    args = ["etl", "load", str(path), "--dataset", "d", "--demo-key", "--json"]
    args += ["--covers", "2024-01:2024-12", "--max-reject-rate", "0.5"]
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def startup(tmp_path_factory):
    """Seconds the command takes to start and refuse an empty file, here and now."""
    path = tmp_path_factory.mktemp("startup") / "empty.csv"
    path.write_bytes(b"")
    began = time.monotonic()
    _run(path, path.with_name("w.db"), timeout=120)
    return time.monotonic() - began


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_hostile_file_loads_completely_or_is_refused_and_leaks_nothing(
    name, tmp_path, sqlite_template, startup
):
    build, expected = CORPUS[name]
    path = tmp_path / "export.csv"
    path.write_bytes(build(tmp_path))
    (tmp_path / "base.csv").unlink(missing_ok=True)
    db = tmp_path / "w.db"
    db.write_bytes(sqlite_template.read_bytes())
    result = _run(path, db, timeout=10 + 2 * startup)
    if isinstance(expected, int):
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["rows_read"] == expected
        counted = ("rows_rejected", "consent_refused", "duplicates_skipped")
        counted += ("cases_cut_by_person_bound", "cases_loaded")
        assert sum(report[k] for k in counted) == report["rows_read"]
    else:
        assert result.returncode == 1, result.stdout
        assert result.stderr.startswith("Error: refused export.csv: ")
        assert re.search(expected, result.stderr), result.stderr
        assert not (tmp_path / "export.csv.rejects.csv").exists()
    traces = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    for f in tmp_path.iterdir():
        if f != path:
            traces[f.name] = f.read_bytes()
    for where, blob in traces.items():
        for value in IDENTIFYING:
            assert value.encode() not in blob, f"{name}: an identifying value in {where}"
