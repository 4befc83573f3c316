"""Property-based fuzzing of GraphQL from its own SDL (schemathesis), as a researcher and as
a partner: every generated operation is answered below 500, and every error in the answer is
ours or GraphQL's own, never the masked "Unexpected error." that an exception inside a
resolver becomes (GraphQL's 500). A warehouse of its own: the REST fuzzing of staff routes
revokes keys at random."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from api.app import create_app
from api.gql.schema import schema as graphql_schema
from schema.migrate import upgrade
from tests.api.conftest import auth, build_world, settings_for

pytestmark = pytest.mark.slow  # hypothesis over GraphQL documents

schema = schemathesis.graphql.from_file(graphql_schema.as_str())

FUZZ = hypothesis_settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
HANG_GUARD = ThreadPoolExecutor(max_workers=1)  # a request that hangs fails its test
DATASET = re.compile(r'dataset: "(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-graphql")
    url = f"sqlite:///{folder / 'w.db'}"
    upgrade(url)
    keys, engine = build_world(url, folder)
    app = create_app(settings_for(url, rate_limit_anonymous="100000/minute"))
    with TestClient(app) as client:
        yield client, keys
    engine.dispose()


def _answered(response):
    assert response.status_code < 500, response.text[:300]
    body = response.json()
    assert set(body) <= {"data", "errors", "extensions"}, body
    messages = [e["message"] for e in body.get("errors") or []]
    assert "Unexpected error." not in messages, body


def _fuzz(case, client, key):
    """The generated operation, then the same for the real dataset, so that the generated
    groupings, filters, periods and ε reach the release service rather than stopping at
    "no such dataset". (The app is built after the cases are, so the test client sends.)"""
    operations = [case.body]
    if DATASET.search(case.body):
        operations.append(DATASET.sub('dataset: "helpline-cases"', case.body))
    for query in operations:
        sent = HANG_GUARD.submit(client.post, "/graphql", json={"query": query}, headers=auth(key))
        _answered(sent.result(timeout=60))


@schema.parametrize()
@FUZZ
def test_as_a_researcher(case, served):
    client, keys = served
    _fuzz(case, client, keys["alice"])


@schema.parametrize()
@FUZZ
def test_as_a_partner(case, served):
    client, keys = served
    _fuzz(case, client, keys["partner"])
