"""``amaan serve`` runs the app under a real uvicorn server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow  # a real server

AMAAN = str(Path(sys.executable).with_name("amaan"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_refuses_without_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'w.db'}"
    subprocess.run([AMAAN, "db", "upgrade"], env=env, check=True, capture_output=True)
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
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bad_settings_stop_the_server_before_it_listens(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_SENSITIVE_THRESHOLD"] = "5"
    result = subprocess.run([AMAAN, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "AMAAN_SENSITIVE_THRESHOLD" in result.stderr
