"""The container files, without Docker: compose.yaml's environment (parsed with PyYAML, its
``${...}`` filled in as compose would) and the image's commands, run directly against a real
PostgreSQL database and Redis."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.api.servers import server_process

pytestmark = pytest.mark.slow  # the image's commands as processes

ROOT = Path(__file__).resolve().parents[1]
AMAAN = str(Path(sys.executable).with_name("amaan"))
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def image_command():
    """The Dockerfile's ENTRYPOINT and CMD (exec form), as one command line."""
    text = (ROOT / "Dockerfile").read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    return entry + cmd


def interpolate(value, given):
    """compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def one(match):
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest or ""

    return VARIABLE.sub(one, str(value))


SECRETS = {
    "AMAAN_DB_PASSWORD": "pw",
    "AMAAN_AUDIT_KEY": secrets.token_hex(16),
    "AMAAN_PSEUDONYM_KEY": secrets.token_hex(16),
}


def test_compose_refuses_to_start_without_its_secrets():
    env = compose()["services"]["api"]["environment"]
    for name in SECRETS:
        with pytest.raises(KeyError, match=name):
            {k: interpolate(v, SECRETS | {name: ""}) for k, v in env.items()}


def test_compose_wires_the_services_it_names():
    services = compose()["services"]
    env = {k: interpolate(v, SECRETS) for k, v in services["api"]["environment"].items()}
    assert make_url(env["AMAAN_DATABASE_URL"]).host == "postgres" in services
    assert env["AMAAN_RATE_LIMIT_STORAGE"].startswith("redis://redis:") and "redis" in services
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert "command" not in services["api"]  # the image's own command
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "warehouse" in compose()["volumes"]
    assert "--workers" in image_command() and int(image_command()[-1]) > 1


def test_the_image_commands_serve_with_the_compose_environment(pg_databases, tmp_path):
    redis = os.environ.get("AMAAN_TEST_REDIS_URL")
    if not redis:
        pytest.skip("needs AMAAN_TEST_REDIS_URL")
    database = make_url(pg_databases.create())
    env = {
        k: interpolate(v, SECRETS) for k, v in compose()["services"]["api"]["environment"].items()
    }
    # The compose network's host names, here: the test's PostgreSQL database and Redis.
    url = make_url(env["AMAAN_DATABASE_URL"]).set(
        host=database.host,
        port=database.port,
        database=database.database,
        username=database.username,
        password=database.password,
    )
    env["AMAAN_DATABASE_URL"] = url.render_as_string(hide_password=False)
    env["AMAAN_RATE_LIMIT_STORAGE"] = redis
    env["AMAAN_RATE_LIMIT_PREFIX"] = f"deploy-{secrets.token_hex(4)}"
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")} | env
    migrate = [AMAAN, *compose()["services"]["migrate"]["command"]]
    assert subprocess.run(migrate, env=run_env, capture_output=True, timeout=120).returncode == 0

    def command(port):
        args = [AMAAN, *image_command()[1:]]
        args[args.index("--host") + 1] = "127.0.0.1"
        args[args.index("--port") + 1] = str(port)
        args[args.index("--workers") + 1] = "2"  # two cores here, shared
        return args

    out = tmp_path / "server.out"
    with out.open("w") as sink, server_process(run_env, 2, sink, command) as (base, _):
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{base}/v1/me").status_code == 401
        assert httpx.get(f"{base}/docs").status_code == 404  # production: no API docs
    lines = [json.loads(x) for x in out.read_text().splitlines() if x.startswith("{")]
    assert {"/readyz", "/v1/*"} <= {line["route"] for line in lines}
    for name in ("AMAAN_AUDIT_KEY", "AMAAN_PSEUDONYM_KEY"):
        assert SECRETS[name] not in out.read_text()
