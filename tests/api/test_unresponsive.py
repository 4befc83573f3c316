"""A database or a Redis that accepts connections and never answers fails a request within
seconds (503 busy), instead of hanging every request of the worker."""

import socket
import threading
import time
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import settings_for

pytestmark = pytest.mark.slow  # a database that never answers, waited out

HANG_GUARD_S = 30  # generous: the bounds are 5 s (database) and 1 s (Redis)


@contextmanager
def black_hole():
    """A listener that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def _ask(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        started = time.monotonic()
        r = client.get("/v1/me", headers={"Authorization": "Bearer not-a-key-but-long-enough"})
    return r, time.monotonic() - started


def test_a_database_that_never_answers_is_a_503_not_a_hang():
    with black_hole() as port:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/nowhere"
        r, took = _ask(create_app(settings_for(url)))
    assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
    assert took < HANG_GUARD_S


def test_a_redis_that_never_answers_is_a_503_not_a_hang(db_url):
    with black_hole() as port:
        settings = settings_for(db_url, rate_limit_storage=f"redis://127.0.0.1:{port}/0")
        r, took = _ask(create_app(settings))
    assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
    assert took < HANG_GUARD_S
