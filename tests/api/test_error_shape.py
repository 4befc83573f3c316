"""Every error answers in the API's shape, ``{"error": {"code", "message"}}``: Starlette's
own refusals (no such route, method not allowed), the GraphQL endpoint's (no query, a mutation
over GET, a content type it does not read, JSON it cannot parse), the body limit and the
key check, as well as our own."""

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from schema.migrate import upgrade
from tests.api.conftest import UNLIMITED, auth, build_world, settings_for

MUTATION_OVER_GET = "/graphql?query=" + quote(
    'mutation { countCases(query: {dataset: "x", groupBy: []}) { cached } }'
)
BIG = b"x" * (64 * 1024 + 1)

# (method, path, with a researcher's key, extra request arguments, status, code)
REQUESTS = [
    ("GET", "/no-such-route", False, {}, 404, "not_found"),
    ("GET", "/v1/no-such-route", True, {}, 404, "not_found"),
    ("GET", "/admin/no-such-page", False, {}, 404, "not_found"),
    ("DELETE", "/v1/datasets", True, {}, 405, "method_not_allowed"),
    ("POST", "/healthz", False, {}, 405, "method_not_allowed"),
    ("PUT", "/graphql", True, {}, 405, "method_not_allowed"),
    ("GET", MUTATION_OVER_GET, True, {}, 400, "bad_request"),
    ("POST", "/graphql", True, {"json": {}}, 400, "bad_request"),
    (
        "POST",
        "/graphql",
        True,
        {"content": "{ me { name } }", "headers": {"Content-Type": "text/plain"}},
        400,
        "bad_request",
    ),
    (
        "POST",
        "/graphql",
        True,
        {"content": "{nope", "headers": {"Content-Type": "application/json"}},
        400,
        "bad_request",
    ),
    ("GET", "/graphql", True, {"headers": {"Accept": "text/html"}}, 404, "not_found"),
    ("POST", "/v1/queries", True, {"content": BIG}, 413, "too_large"),
    ("POST", "/graphql", True, {"content": BIG}, 413, "too_large"),
    (
        "POST",
        "/admin/sign-in",
        False,
        {
            "content": b"key=" + BIG,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        413,
        "too_large",
    ),
    ("POST", "/v1/queries", False, {"content": b"{nope"}, 401, "unauthorized"),
    (
        "POST",
        "/v1/queries",
        True,
        {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
        422,
        "invalid_request",
    ),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One warehouse for the module: none of these requests changes anything."""
    folder = tmp_path_factory.mktemp("shape")
    url = f"sqlite:///{folder / 'w.db'}"
    upgrade(url)
    keys, engine = build_world(url, folder)
    with TestClient(create_app(settings_for(url, rate_limit_anonymous=UNLIMITED))) as client:
        yield client, keys, engine
    engine.dispose()


@pytest.mark.parametrize(("method", "path", "keyed", "kwargs", "status", "code"), REQUESTS)
def test_every_error_answers_in_the_api_shape(api, method, path, keyed, kwargs, status, code):
    client, keys, _ = api
    kwargs = dict(kwargs)
    headers = kwargs.pop("headers", {}) | (auth(keys["alice"]) if keyed else {})
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text[:200]
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if status == 405 and not path.startswith("/graphql?"):
        assert "allow" in r.headers


def test_a_huge_margin_of_error_is_refused_not_a_crash(api):
    """It overflowed the released intervals' integers: a 500 over REST, a masked error over
    GraphQL. Found by the GraphQL fuzzing."""
    client, keys, _ = api
    body = {"dataset": "helpline-cases", "group_by": ["gender"], "margin_of_error": 1e300}
    r = client.post("/v1/queries", json=body, headers=auth(keys["alice"]))
    assert r.status_code == 422 and "from 1 to 100,000" in r.json()["error"]["message"]
    query = (
        'mutation { countCases(query: {dataset: "helpline-cases", groupBy: [GENDER], '
        "marginOfError: 1e12}) { marginOfError } }"
    )
    r = client.post("/graphql", json={"query": query}, headers=auth(keys["alice"]))
    (error,) = r.json()["errors"]
    assert "from 1 to 100,000" in error["message"] and error["extensions"]["code"]


def test_websockets_are_refused(api):
    """None is served; GraphQL's would have skipped the key, rate and body checks."""
    from starlette.websockets import WebSocketDisconnect

    client, _, _ = api
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]),
    ):
        pass
    assert refused.value.code == 1008


def test_a_body_nested_past_parsing_is_refused_not_a_crash(api):
    """Found by the red team: JSON nested 30,000 deep raised RecursionError, a 500."""
    client, keys, _ = api
    deep = b"[" * 30_000 + b"]" * 30_000
    for body in (deep, b'{"query": "{ me { role } }", "variables": ' + deep + b"}"):
        r = client.post(
            "/graphql",
            content=body,
            headers={**auth(keys["alice"]), "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 413), r.text
        assert r.json()["error"]["code"] in ("bad_request", "too_large")
