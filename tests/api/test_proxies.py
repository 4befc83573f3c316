"""Forwarded headers are believed only from AMAAN_TRUSTED_PROXIES, through a real server:
by default a changing X-Forwarded-For gets an anonymous client no fresh rate-limit bucket."""

import os

import httpx
import pytest

from tests.api.servers import running_server

pytestmark = pytest.mark.slow  # a real server


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    env |= {"AMAAN_RATE_LIMIT_ANONYMOUS": "2/minute"} | extra
    return env


def _codes(base):
    return [
        httpx.get(f"{base}/v1/me", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
        for i in range(4)
    ]


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path):
    from schema.migrate import upgrade

    upgrade(f"sqlite:///{tmp_path / 'w.db'}")
    with running_server(_env(tmp_path), workers=1) as base:
        assert _codes(base) == [401, 401, 429, 429]  # one client, whatever it claims
    trusted = _env(tmp_path, AMAAN_TRUSTED_PROXIES='["127.0.0.1"]')
    with running_server(trusted, workers=1) as base:
        assert _codes(base) == [401] * 4  # four clients behind our proxy
