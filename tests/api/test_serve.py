"""``amaan serve`` runs the app under a real uvicorn server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from schema.db import make_engine
from schema.repositories import audit, audit_seal
from schema.repositories.audit_verify import KEY_INFO
from schema.settings import DEMO_AUDIT_KEY

pytestmark = pytest.mark.slow  # a real server

AMAAN = str(Path(sys.executable).with_name("amaan"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_refuses_without_a_key(tmp_path):
    """Also: with several workers, ``amaan serve``'s own process seals the audit log, and
    seals it once more after they stop (here the only round after the start: a minute's
    interval)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    env["AMAAN_AUDIT_SEAL_INTERVAL"] = "60"
    subprocess.run([AMAAN, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = make_engine(env["AMAAN_DATABASE_URL"])
    port = _free_port()
    server = subprocess.Popen(
        [AMAAN, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240  # a hang guard: a loaded machine starts slowly
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert r.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/v1/me").status_code == 401
        with Session(engine, info={KEY_INFO: DEMO_AUDIT_KEY.encode()}) as s, s.begin():
            for _ in range(3):
                audit.append(s, action="admin.test", outcome="written")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    with Session(engine) as s:
        assert audit_seal.seal_lag(s) is None  # nothing left unsealed
        assert audit.verify(s, DEMO_AUDIT_KEY.encode()) == audit.Verification(True, 3)
    engine.dispose()


def test_bad_settings_stop_the_server_before_it_listens(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_SENSITIVE_THRESHOLD"] = "5"
    result = subprocess.run([AMAAN, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "AMAAN_SENSITIVE_THRESHOLD" in result.stderr
