"""``GET /metrics``: Prometheus text, parsed with prometheus_client's own parser; staff read
everything, an allowed network everything but latency, anyone else nothing."""

import os

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from schema.migrate import upgrade
from tests.api.conftest import auth, build_world, settings_for
from tests.api.servers import server_process

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}


def samples(text):
    """{(sample name, sorted labels): value} of a scrape."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped, name, **labels):
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_staff_scrape_counts_requests_hits_refusals_and_epsilon(api):
    client, keys, _ = api
    staff, alice = auth(keys["admin"]), auth(keys["alice"])
    before = samples(client.get("/metrics", headers=staff).text)
    assert client.post("/v1/queries", json=QUERY, headers=alice).status_code == 200
    assert client.post("/v1/queries", json=QUERY, headers=alice).status_code == 200  # cached
    too_much = client.post("/v1/queries", json=QUERY | {"epsilon": 0.3}, headers=alice)
    assert too_much.json()["error"]["code"] == "account_budget_exceeded"
    r = client.get("/metrics", headers=staff)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = samples(r.text)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"route": "/v1/queries", "method": "POST", "status": "200"}
    assert grew("amaan_requests_total", **ok) == 2
    assert grew("amaan_requests_total", **(ok | {"status": "403"})) == 1
    assert grew("amaan_cache_hits_total", kind="query") == 1
    assert grew("amaan_refusals_total", code="account_budget_exceeded") == 1
    assert grew("amaan_request_duration_seconds_count", route="/v1/queries") == 3
    assert value(after, "amaan_epsilon_spent", dataset="helpline-cases") == 0.05
    assert value(after, "amaan_epsilon_cap", dataset="helpline-cases") > 0.05
    assert value(after, "amaan_warehouse_up") == 1
    # The queries' audit entries: nothing seals them in this app (no lifespan ran).
    assert value(after, "amaan_audit_unsealed_entries") >= 3
    assert value(after, "amaan_audit_seal_lag_seconds") >= 0


def test_only_staff_or_an_allowed_network_may_scrape(api, world_url):
    client, keys, _ = api
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(keys["alice"])).status_code == 403
    assert client.get("/metrics", headers=auth(keys["revoked"])).status_code == 401
    app = create_app(settings_for(world_url, metrics_networks=["10.1.0.0/16"]))
    inside = TestClient(app, client=("10.1.2.3", 40000))
    outside = TestClient(app, client=("10.2.0.1", 40000))
    scraped = inside.get("/metrics")
    assert scraped.status_code == 200
    names = {f.name for f in text_string_to_metric_families(scraped.text)}
    assert {"amaan_requests", "amaan_epsilon_spent", "amaan_refusals"} <= names
    assert "amaan_request_duration_seconds" not in names  # timing: staff only
    assert outside.get("/metrics").status_code == 401
    staff = outside.get("/metrics", headers=auth(keys["admin"]))
    assert "amaan_request_duration_seconds" in staff.text


@pytest.mark.slow  # a real server with two workers
def test_several_workers_add_up(tmp_path):
    """Under ``amaan serve --workers 2`` every worker counts into prometheus_client's
    multiprocess files: every scrape, whichever worker answers it, sees all requests."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    keys, engine = build_world(url, tmp_path)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMAAN_", "PROMETHEUS_"))}
    env |= {"AMAAN_DATABASE_URL": url, "AMAAN_RATE_LIMIT_ANONYMOUS": "1000/minute"}
    labels = {"route": "/v1/*", "method": "GET", "status": "401"}
    with server_process(env, workers=2) as (base, _):
        for _ in range(20):  # new connections: the kernel spreads them over the workers
            assert httpx.get(f"{base}/v1/me").status_code == 401
        seen = [
            value(
                samples(httpx.get(f"{base}/metrics", headers=auth(keys["admin"])).text),
                "amaan_requests_total",
                **labels,
            )
            for _ in range(8)
        ]
    assert seen == [20] * 8


def test_metrics_networks_must_be_networks():
    from pydantic import ValidationError

    from schema.settings import Settings

    assert Settings(metrics_networks=["10.0.0.0/8"]).metrics_networks == ["10.0.0.0/8"]
    with pytest.raises(ValidationError, match="AMAAN_METRICS_NETWORKS"):
        Settings(metrics_networks=["*"])
