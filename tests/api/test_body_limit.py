"""Bodies are bounded, and nobody's body is read before their key and rate limit are checked."""

import asyncio
import json

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from api.app import create_app
from api.limits import BodyLimit
from schema.migrate import upgrade
from tests.api.conftest import auth, build_world, settings_for

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bodies")
    url = f"sqlite:///{folder / 'w.db'}"
    upgrade(url)
    keys, engine = build_world(url, folder)
    yield url, keys
    engine.dispose()


def test_anonymous_malformed_bodies_get_401_and_count_against_the_anonymous_limit(world):
    url, _ = world
    app = create_app(settings_for(url, rate_limit_anonymous="2/minute"))
    malformed = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    with TestClient(app) as client:
        codes = [client.post("/v1/queries", **malformed).status_code for _ in range(2)]
        assert codes == [401, 401]  # not 422: the body was never parsed
        assert client.post("/v1/queries", **malformed).status_code == 429
    with TestClient(create_app(settings_for(url))) as client:
        huge = {"content": b"[" * (2 * 1024 * 1024), "headers": malformed["headers"]}
        assert client.post("/v1/queries", **huge).status_code == 401
        assert client.post("/graphql", **huge).status_code == 401  # GraphQL too, unread
    with TestClient(create_app(settings_for(url, environment="development"))) as client:
        ide = client.get("/graphql", headers={"Accept": "text/html"})
        assert ide.status_code == 200  # the IDE page (development only) needs no key


def test_the_limit_is_configurable_and_a_body_within_it_is_read_whole(world):
    url, keys = world
    with TestClient(create_app(settings_for(url, max_body_bytes=2048))) as client:
        body = json.dumps(QUERY).encode()
        exact = body + b" " * (2048 - len(body))  # JSON allows trailing whitespace
        r = client.post(
            "/v1/queries",
            content=exact,
            headers=auth(keys["bob"]) | {"Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text[:200]
        over = client.post("/v1/queries", content=exact + b" ", headers=auth(keys["bob"]))
        assert over.status_code == 413 and over.json()["error"]["limit"] == 2048
        assert over.headers["connection"] == "close"


def _run(limit, messages, declared=None, seconds=10.0, pause=0.0):
    """BodyLimit over an app that records whether it ran; returns (status, receives, ran)."""
    received, sent, ran = [], [], []

    async def receive() -> Message:
        received.append(1)
        await asyncio.sleep(pause)
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    async def app(scope, receive, send):
        ran.append(True)

    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    scope = {"type": "http", "method": "POST", "path": "/v1/queries", "headers": headers}
    asyncio.run(BodyLimit(app, limit, seconds)(scope, receive, send))
    return sent[0]["status"], len(received), bool(ran)


def test_a_chunked_body_without_a_length_stops_being_read_at_the_limit():
    endless = iter(lambda: {"type": "http.request", "body": b"x" * 1024, "more_body": True}, None)
    status, receives, ran = _run(64 * 1024, endless)
    assert (status, ran) == (413, False)
    assert receives == 65  # 64 chunks fill the limit, the 65th passes it: nothing more is read


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    status, receives, ran = _run(1024, iter([]), declared=10**9)
    assert (status, receives, ran) == (413, 0, False)


def test_a_body_sent_too_slowly_is_refused():
    trickle = iter(lambda: {"type": "http.request", "body": b"x", "more_body": True}, None)
    status, receives, ran = _run(64 * 1024, trickle, seconds=0.3, pause=0.05)
    assert (status, ran) == (408, False) and receives < 64 * 1024


@pytest.mark.slow
def test_bodies_sent_slowly_hold_no_slot(world):
    """Found by the red team: the slot among the requests in flight was taken before the body
    was read, so a dozen bodies trickled at a byte a second (one key, within its rate limit)
    made every other request of the worker wait for the body deadline."""
    import os
    import socket
    import time

    import httpx

    from tests.api.servers import running_server

    url, keys = world
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": url, "AMAAN_RATE_LIMIT_RESEARCHER": "1000/minute"}
    with running_server(env, workers=1) as base:
        port = int(base.rsplit(":", 1)[1])
        trickles = []
        for _ in range(12):
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(
                b"POST /v1/queries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {keys['alice']}\r\n".encode()
                + b"Content-Length: 100\r\n\r\n{"
            )
            trickles.append(conn)
        time.sleep(1.0)  # let them all be read up to their bodies
        started = time.monotonic()
        r = httpx.get(f"{base}/v1/me", headers=auth(keys["bob"]), timeout=30)
        waited = time.monotonic() - started
        for conn in trickles:
            conn.close()
    assert r.status_code == 200
    assert waited < 8, waited  # before: the body deadline, 10 s; now one request's time
