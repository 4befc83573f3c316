"""What the API benchmarks share: a scratch PostgreSQL database with the demo data, and a
real ``amaan serve`` over it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
UNLIMITED = "1000000/minute"


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database (AMAAN_BENCH_POSTGRES_URL's server), loaded with the
    20,020-case demo export; dropped afterwards."""
    from etl.coverage import Coverage
    from etl.load import LoadOptions, load_file
    from etl.synth import SynthOptions, write_export
    from schema.db import make_engine
    from schema.migrate import upgrade

    server = make_url(os.environ.get("AMAAN_BENCH_POSTGRES_URL", DEFAULT_PG))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"amaan_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "export.csv"
            write_export(path, SynthOptions(seed=1))
            covers = Coverage("2017-01", "2024-12")  # the synthetic export's years
            options = LoadOptions("helpline-cases", b"bench-key-0123456789abcdef", covers)
            load_file(path, engine, options)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


SERVERS: list[subprocess.Popen[bytes]] = []  # running, newest last (bench.hits reads their CPU)


@contextmanager
def _running(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    SERVERS.append(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        time.sleep(1)  # let the second worker come up too
        yield base
    finally:
        SERVERS.remove(proc)
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def serving(
    url: str,
    workers: int = 2,
    settings: dict[str, str] | None = None,
    under_uvicorn: bool = False,
) -> Iterator[str]:
    """``amaan serve`` with production settings and no rate limits in the way; ``settings``
    (``AMAAN_*``) added or replaced. ``under_uvicorn``: the app under uvicorn directly, as
    another process manager would run it (its workers seal the audit log themselves)."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")},
        "AMAAN_DATABASE_URL": url,
        "AMAAN_ENVIRONMENT": "production",
        "AMAAN_AUDIT_KEY": "bench-audit-key-" + uuid.uuid4().hex,
        **{f"AMAAN_RATE_LIMIT_{r}": UNLIMITED for r in ("RESEARCHER", "PARTNER", "ADMIN")},
        **(settings or {}),
    }
    amaan = str(Path(sys.executable).with_name("amaan"))
    command = [amaan, "serve", "--port", str(port), "--workers", str(workers)]
    if under_uvicorn:
        command = _uvicorn("api.app:create_app", port, workers)
    with _running(command, env, port) as base:
        yield base


def _uvicorn(app: str, port: int, workers: int) -> list[str]:
    """uvicorn's command line as ``amaan serve`` configures it (httptools, uvloop)."""
    return [
        *(sys.executable, "-m", "uvicorn", app, "--factory"),
        *("--port", str(port), "--workers", str(workers), "--no-access-log"),
        *("--log-level", "warning", "--http", "httptools", "--loop", "uvloop"),
    ]


@contextmanager
def serving_minimal(url: str, workers: int = 2) -> Iterator[str]:
    """``bench.minimal_app`` under uvicorn as ``amaan serve`` runs it (httptools, uvloop)."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")},
        "AMAAN_DATABASE_URL": url,
    }
    with _running(_uvicorn("bench.minimal_app:create_app", port, workers), env, port) as base:
        yield base
