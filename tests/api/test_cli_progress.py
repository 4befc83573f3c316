"""``amaan etl load`` draws a progress bar with its rate and the time left on a terminal,
and nothing but its report when its output is piped."""

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from etl.synth import SynthOptions, write_export
from schema.migrate import upgrade

AMAAN = str(Path(sys.executable).with_name("amaan"))


@pytest.fixture
def load(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    export = tmp_path / "export.csv"
    write_export(export, SynthOptions(years=(2024, 2024), seed=3))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": url, "COLUMNS": "160", "TERM": "xterm"}
    args = [AMAAN, "etl", "load", str(export), "--dataset", "d", "--covers", "2024-01:2024-12"]
    return [*args, "--demo-key"], env


def test_piped_output_stays_plain(load):
    args, env = load
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for stream in (run.stdout, run.stderr):
        assert "\r" not in stream and "\x1b" not in stream
        assert "rows/s" not in stream
    assert run.stdout.startswith("Loaded into d, version 1")


def test_a_terminal_gets_rate_and_time_left(load):
    args, env = load
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    report, _ = proc.communicate(timeout=300)
    os.close(controller)
    assert proc.returncode == 0
    text = drawn.decode("utf-8", "replace")
    assert "rows/s" in text and "time left" in text and "100%" in text
    assert "rows/s" not in report.decode()  # the report on stdout stays plain
