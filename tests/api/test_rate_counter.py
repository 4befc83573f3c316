"""``api.rate_limits.Counter`` counts as slowapi's ``Limiter.limit`` decorator on the dynamic
limit did before it: the same storage keys, the same counts and headers, the same refusal,
on in-process and on Redis storage."""

import os
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from fastapi import Request, Response
from limits import parse
from slowapi.errors import RateLimitExceeded

from api import rate_limits
from api.rate_limits import ENDPOINT, rate_key, rate_limiter
from schema.settings import Settings

REDIS_ENV = "AMAAN_TEST_REDIS_URL"


def _settings(storage: str) -> Settings:
    return Settings(
        database_url="sqlite://",
        environment="test",
        rate_limit_storage=storage,
        rate_limit_prefix="test-" + uuid.uuid4().hex,
        rate_limit_researcher="3/minute;5/hour",
        rate_limit_anonymous="2/minute",
    )


def _request(identity: object) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/v1/queries", "headers": []}
    scope |= {"client": ("10.1.2.3", 5000), "state": {}}
    request = Request(scope)
    request.state.identity = identity
    request.state.rate_group = "queries"
    return request


def _slowapi(settings: Settings):
    """What counted before: the decorator on the dynamic limit, with its own limiter."""
    limiter, _ = rate_limiter(settings)

    def limit_for(key: str) -> str:
        return settings.rate_limit_for(key.split("|", 1)[0])

    def decorated(request: Request, response: Response) -> None:
        return None

    decorated.__module__, decorated.__name__ = ENDPOINT.rsplit(".", 1)  # as it was named
    rate_limited = limiter.limit(limit_for)(decorated)

    def count(request: Request) -> list[tuple[str, str]]:
        probe = Response()
        rate_limited(request=request, response=probe)
        return [(k, v) for k, v in probe.headers.items() if k.startswith("x-ratelimit")]

    return limiter, count


def _outcomes(count, who: object, n: int) -> list[object]:
    out: list[object] = []
    for _ in range(n):
        request = _request(who)  # a request each, as served
        try:
            headers = dict(count(request))
            out.append((headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]))
        except RateLimitExceeded as exc:
            out.append(("refused", exc.detail, request.state.view_rate_limit[1]))
    return out


def _storages() -> list[str]:
    redis = os.environ.get(REDIS_ENV)
    return ["memory://", *([redis] if redis else [])]


@pytest.mark.parametrize("storage", _storages())
@pytest.mark.parametrize("identity", ["researcher", None])
def test_the_counter_counts_as_slowapi_did(storage, identity):
    key = SimpleNamespace(id=12)
    who = None if identity is None else (SimpleNamespace(role=identity), key)
    old_settings, new_settings = _settings(storage), _settings(storage)
    old_limiter, old = _slowapi(old_settings)
    new_limiter, new = rate_limiter(new_settings)
    before = _outcomes(old, who, 5)
    after = _outcomes(new, who, 5)

    def unprefixed(outcomes: list[object], prefix: str) -> list[object]:
        return [
            o if o[0] != "refused" else (*o[:2], [a for a in o[2] if a != prefix]) for o in outcomes
        ]  # type: ignore[index]

    assert unprefixed(after, new_settings.rate_limit_prefix) == unprefixed(
        before, old_settings.rate_limit_prefix
    )
    limit = 3 if identity else 2
    assert [o[0] for o in after] == [str(limit)] * limit + ["refused"] * (5 - limit)
    assert after[-1][1] == f"{limit} per 1 minute"  # the 429's message
    # The same storage keys, each under its own prefix.
    request = _request(who)
    item = new.limits(rate_key(request).split("|", 1)[0])[0].limit
    for limiter, settings in ((old_limiter, old_settings), (new_limiter, new_settings)):
        args = [settings.rate_limit_prefix, rate_key(request), ENDPOINT]
        assert limiter.limiter.get_window_stats(item, *args)[1] == 0  # all spent
    if storage == "memory://":
        strip = [
            {k.replace(s.rate_limit_prefix, "P") for k in lim._storage.storage}
            for lim, s in ((old_limiter, old_settings), (new_limiter, new_settings))
        ]
        assert strip[0] == strip[1] and strip[0]


@pytest.mark.parametrize(
    "variable",
    [
        "RATELIMIT_ENABLED=false",
        "RATELIMIT_SWALLOW_ERRORS=true",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=true",
    ],
)
def test_slowapis_own_environment_settings_are_refused(monkeypatch, variable):
    """slowapi reads RATELIMIT_* from the environment: counting off, storage errors swallowed
    or per-worker fallback counts would change every limit unseen, so the app will not start."""
    name, _, value = variable.partition("=")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="RATELIMIT_ENABLED, RATELIMIT_SWALLOW_ERRORS"):
        rate_limiter(Settings(rate_limit_storage="memory://"))
    monkeypatch.delenv(name)
    limiter, _ = rate_limiter(Settings(rate_limit_storage="memory://"))
    assert limiter.enabled


def test_in_process_counts_start_no_thread_per_request(monkeypatch):
    """``memory://`` counts as limits' own storage does, with its sweep of expired counters
    started at most once a ``SWEEP_SECONDS`` (limits' starts a timer thread on nearly every
    count); a counter whose window has passed counts from zero again all the same."""
    started: list[object] = []

    class Counted(threading.Timer):
        def start(self) -> None:
            started.append(self)
            super().start()

    monkeypatch.setattr(rate_limits.threading, "Timer", Counted)
    settings = _settings("memory://")
    limiter, count = rate_limiter(settings)
    assert isinstance(limiter._storage, rate_limits.SweptMemoryStorage)
    who = (SimpleNamespace(role="researcher"), SimpleNamespace(id=12))
    item = parse("3/second")
    args = [settings.rate_limit_prefix, "k", ENDPOINT]
    started.clear()  # limits' storages start one each when made
    began = time.monotonic()
    outcomes = []
    for _ in range(60):  # at least 1.2 s: the first window passes
        outcomes.append(limiter.limiter.hit(item, *args))
        time.sleep(0.02)  # each count after the last timer (10 ms) has ended
    took = time.monotonic() - began
    assert len(started) <= took / rate_limits.SWEEP_SECONDS + 1  # was about one a count
    assert outcomes[:4] == [True] * 3 + [False]
    # Counted from zero once the first window passed: 3 more, at most 3 windows in all.
    assert 6 <= outcomes.count(True) <= 3 * (int(took) + 1)
    assert [o[0] for o in _outcomes(count, who, 5)] == ["3"] * 3 + ["refused"] * 2
