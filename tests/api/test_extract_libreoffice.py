"""LibreOffice (Debian's headless Calc) opens the extracts and shows their Urdu intact.

Each file is converted back to UTF-8 CSV with ``soffice --headless --convert-to`` (every sheet
of the workbook) and compared with what the API wrote. LibreOffice missing skips them, as the
browser tests, except in CI (``AMAAN_REQUIRE_POSTGRES=1``), where it fails the run: install
Debian's ``libreoffice-calc-nogui`` (``.ci/run`` does).
"""

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api import about
from tests.api.conftest import auth
from tests.api.test_extract_files import SMALL
from tests.api.test_extracts import publish

pytestmark = pytest.mark.slow  # LibreOffice starts in seconds
# Field separator, text delimiter, UTF-8 (76), first line; then quote all text, export
# every sheet (-1) into a file of its own.
CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1"
CSV_IN = "CSV:44,34,76,1"


def soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":  # CI: everything must run
            pytest.fail("soffice is missing: apt-get install libreoffice-calc-nogui")
        pytest.skip("the LibreOffice tests need soffice (libreoffice-calc-nogui)")
    return found


def converted(source: Path, *infilter: str) -> dict[str, list[list[str]]]:
    """``source`` as LibreOffice reads it: each sheet's rows, by the file LibreOffice wrote."""
    out = source.parent / f"{source.stem}-out"
    profile = (source.parent / "profile").as_uri()  # its own, so parallel runs never share one
    command = [soffice(), f"-env:UserInstallation={profile}", "--headless", *infilter]
    command += ["--convert-to", CSV_OUT, "--outdir", str(out), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    files = sorted(out.glob("*.csv"))
    assert files, f"LibreOffice wrote nothing: {done.stdout} {done.stderr}"
    return {f.name: list(csv.reader(io.StringIO(f.read_text("utf-8")))) for f in files}


def lowered(rows: list[list[str]]) -> list[list[str]]:
    return [[value.lower() for value in row] for row in rows]


@pytest.fixture
def extract(api, tmp_path):
    client, keys, _ = api
    pub = publish(client, keys, ["all-partners"], query=SMALL, margins=True)
    release = pub["release_id"]
    key = auth(keys["partner"])

    def get(**params):
        r = client.get(f"/v1/releases/{release}", params=params, headers=key)
        assert r.status_code == 200, r.text
        return r.content

    meta = client.get(f"/v1/releases/{release}/metadata", headers=key).json()
    return get, meta, tmp_path


def test_libreoffice_reads_the_workbook_with_its_urdu(extract):
    get, meta, folder = extract
    (folder / "extract.xlsx").write_bytes(get(format="xlsx"))
    sheets = converted(folder / "extract.xlsx")
    assert sorted(sheets) == ["extract-About this table.csv", "extract-Table.csv"]
    table = sheets["extract-Table.csv"]
    written = list(csv.reader(io.StringIO(get(format="csv").decode("utf-8"))))
    assert lowered(table) == lowered(written)  # booleans come back as TRUE and FALSE
    assert {row[2] for row in table[1:]} >= {"خواتین", "مرد"}
    shown = {value for row in sheets["extract-About this table.csv"] for value in row}
    assert about.TITLE[1] in shown
    for note in about.notes(meta):
        assert {note.ur_heading, note.ur, note.en} <= shown


def test_libreoffice_reads_the_csv_with_its_urdu(extract):
    get, _, folder = extract
    content = get(format="csv", bom="1")
    (folder / "extract.csv").write_bytes(content)
    (sheet,) = converted(folder / "extract.csv", f"--infilter={CSV_IN}").values()
    written = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert sheet[0][0] == "gender"  # the byte-order mark is read as such, not as text
    assert lowered(sheet) == lowered(written)
    assert {row[2] for row in sheet[1:]} >= {"خواتین", "مرد"}
