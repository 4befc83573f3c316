"""The ``amaan`` command run in the test's own process, through click's runner: what a test
of a staff command's behaviour needs (its exit status, its stdout and stderr, what it wrote)
without a new interpreter importing everything again for each command (about a second and a
half each). What only a real process shows (settings read at start, one line and no traceback
on a bad start, what a command imports) is tested through the console script itself, in
``test_cli_checks``, and in ``test_cli_audit``'s production settings."""

from __future__ import annotations

import os
import subprocess
import traceback
from pathlib import Path

from click.testing import CliRunner

from api.cli import main
from schema.settings import get_settings


def run_amaan(db: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """``amaan *args`` on the SQLite warehouse ``db``, with no ``AMAAN_`` variable but those
    given (as ``_run`` gave a process), its settings read afresh. A command that crashes
    (not a refusal: any exception but click's exit) fails the test with its traceback, where a
    process would have printed one and exited 1."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AMAAN_")}
    env = clean | {"AMAAN_DATABASE_URL": f"sqlite:///{db}"} | env
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, list(args), env=env, prog_name="amaan")
    finally:
        get_settings.cache_clear()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info))
        raise AssertionError(f"amaan {' '.join(args)} crashed:\n{trace}")
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
