"""Settings and start-up problems stop every command with one line naming the setting or
saying what to do, through the real ``amaan`` process: no traceback, no secret echoed."""

import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from schema.migrate import upgrade
from tests.etl.helpers import case, write_export

pytestmark = pytest.mark.slow  # the terminal's commands, each a process of its own

AMAAN = str(Path(sys.executable).with_name("amaan"))
DEAD = "postgresql+psycopg://postgres:hunter2secret@127.0.0.1:1/nothing"
UPGRADE = "run `amaan db upgrade`"


def _run(*args, cwd=None, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    return subprocess.run(
        [AMAAN, *args],
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=cwd,
        timeout=120,
    )


def _one_line(run):
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "env", "names"),
    [
        (["serve"], {"AMAAN_DATABASE_URL": "nonsense"}, "AMAAN_DATABASE_URL is not a database URL"),
        (
            ["db", "upgrade"],
            {"AMAAN_DATABASE_URL": "postgres://u:hunter2secret@h/db"},
            "not postgres://",
        ),
        (["budgets"], {"AMAAN_DATABASE_URL": "postgresql+psycopg://u@h:5432"}, "names no database"),
        (["serve"], {"AMAAN_CORS_ORIGINS": "*"}, "AMAAN_CORS_ORIGINS must be JSON"),
        (
            ["demo"],
            {"AMAAN_CORS_ORIGINS": '["*"]'},
            "AMAAN_CORS_ORIGINS must list origins; '*' is refused",
        ),
        (
            ["budgets"],
            {"AMAAN_MAX_IN_FLIGHT": "99"},
            "AMAAN_MAX_IN_FLIGHT: Input should be less than",
        ),
    ],
)
def test_bad_settings_stop_commands_in_one_line(command, env, names, tmp_path):
    line = _one_line(_run(*command, cwd=tmp_path, **env))
    assert line.startswith("Error: invalid settings: ")
    assert names in line
    assert "hunter2secret" not in line


def test_unreachable_database(tmp_path):
    export = write_export(tmp_path / "x.csv", [case(contact_key="p@x.pk")])
    load = ["etl", "load", str(export), "--dataset", "d", "--covers", "2024-01:2024-12"]
    for command in (["serve"], ["db", "upgrade"], ["audit", "verify"], load):
        demo_key = ["--demo-key"] if command is load else []
        line = _one_line(_run(*command, *demo_key, **_at(DEAD)))
        assert line == (
            "Error: the database at AMAAN_DATABASE_URL is unreachable (OperationalError)"
        ), command
        assert "hunter2secret" not in line


def test_unmigrated_warehouse_says_run_db_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    export = write_export(tmp_path / "x.csv", [case(contact_key="p@x.pk")])
    load = ["etl", "load", str(export), "--dataset", "d", "--covers", "2024-01:2024-12"]
    commands = [["serve"], ["accounts", "list"], load]
    for command in commands:
        line = _one_line(_run(*command, *(["--demo-key"] if command is load else []), **_at(url)))
        assert line.endswith(UPGRADE), (command, line)
    assert not (tmp_path / "w.db").exists()  # checking made no empty file
    upgrade(url, "0007")
    line = _one_line(_run("budgets", **_at(url)))
    assert line.startswith("Error: the warehouse is at revision 0007, this version needs ")
    assert line.endswith(UPGRADE)
    assert _run("db", "upgrade", **_at(url)).returncode == 0
    assert _run("accounts", "list", **_at(url)).returncode == 0


def _at(url):
    return {"AMAAN_DATABASE_URL": url}


def test_a_port_in_use_stops_serve_and_demo_before_anything_is_made(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        line = _one_line(_run("serve", "--port", port, **_at(url)))
        assert (
            line == f"Error: port {port} on 127.0.0.1 is in use: stop what holds it or pass --port"
        )
        fresh = tmp_path / "demo"
        fresh.mkdir()
        demo = _run("demo", "--port", port, cwd=fresh, **_at(f"sqlite:///{fresh / 'd.db'}"))
    assert _one_line(demo).startswith(f"Error: port {port} on 127.0.0.1 is in use")
    assert demo.stdout == ""  # no keys printed
    assert list(fresh.iterdir()) == []  # no warehouse, no synthetic export


def test_version():
    run = _run("--version")
    assert run.returncode == 0
    assert run.stdout.strip() == f"amaan, version {version('amaan')}"


def test_a_command_imports_only_its_own_module():
    """``amaan db ...`` does not import the web framework or the workbook writer; every
    named command resolves to itself, and an unknown one is refused by name."""
    code = (
        "import sys; from click.testing import CliRunner; from api.cli import COMMANDS, main\n"
        "r = CliRunner().invoke(main, ['db', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ('fastapi', 'openpyxl', 'api.cli.summaries')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "assert all(main.get_command(None, n).name == n for n in COMMANDS)\n"
        "bad = CliRunner().invoke(main, ['nope'])\n"
        "print(bad.exit_code, 'No such command' in bad.output)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[]", "2 True"]


def test_staff_commands_do_not_import_the_web_framework(tmp_path):
    """The commands of accounts, keys, budgets and the audit run without the web framework,
    GraphQL, pandas or the workbook writer (each a share of every command's start)."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    code = (
        "import sys; from click.testing import CliRunner; from api.cli import main\n"
        "for args in (['accounts', 'list'], ['keys', '--help'], ['datasets', '--help'],\n"
        "             ['budgets'], ['audit', 'verify'], ['ledger']):\n"
        "    r = CliRunner().invoke(main, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        "heavy = ('fastapi', 'starlette', 'strawberry', 'pandas', 'openpyxl')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean | _at(url),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[]"]
