"""A real ``amaan serve`` (uvicorn, several workers) on a free port of 127.0.0.1, and the
demo data it serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

AMAAN = str(Path(sys.executable).with_name("amaan"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@contextmanager
def server_process(
    env: dict[str, str], workers: int, stdout: Any = subprocess.DEVNULL, command: Any = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's base URL and its process, once it answers; stopped at the end. Its
    output goes to ``stdout`` (both streams); ``command`` builds another command line from
    the port."""
    port = free_port()
    serve = [AMAAN, "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(
        command(port) if command else serve,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not subprocess.DEVNULL else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    # Only a hang guard: under a loaded CI machine two workers took more than a minute to
    # import and answer, and the browser tests then failed without a fault of their own.
    deadline = time.monotonic() + 240
    try:
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def running_server(env: dict[str, str], workers: int) -> Iterator[str]:
    with server_process(env, workers) as (base, _):
        yield base


def run_demo(folder: Path) -> tuple[dict[str, str], dict[str, str], str]:
    """``amaan demo --no-serve`` into a SQLite file in ``folder``; returns the environment that
    names it, the printed keys by role, and the printed text."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{folder / 'amaan.db'}"
    run = subprocess.run(
        [AMAAN, "demo", "--no-serve", "--data-dir", str(folder / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    keys = dict(
        line.split()
        for line in run.stdout.splitlines()
        if line.startswith("  ")
        and line.split()[0] in ("researcher", "partner", "admin")
        and len(line.split()) == 2
    )
    return env, keys, run.stdout
