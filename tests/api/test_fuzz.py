"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis).

Whatever the generated request, the API never answers 500 and every response matches the
schema it publishes, for a researcher and for staff (whose routes change state).
"""

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from schema.migrate import upgrade
from tests.api.conftest import auth, build_world, settings_for

pytestmark = pytest.mark.slow  # schemathesis over every operation

# The schema is read when the module is imported (schemathesis's pytest fixture loader does
# not support this pytest), so the app is built here and its warehouse filled by a fixture.
WORKDIR = Path(tempfile.gettempdir()) / f"amaan-fuzz-{uuid.uuid4().hex}"  # made by the fixture
URL = f"sqlite:///{WORKDIR / 'w.db'}"
APP = create_app(settings_for(URL, api_docs=True))
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP

FUZZ = hypothesis_settings(
    max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None
)
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def keys():
    WORKDIR.mkdir()
    upgrade(URL)
    made, engine = build_world(URL, WORKDIR)
    yield made
    engine.dispose()
    APP.state.sessions.kw["bind"].dispose()
    shutil.rmtree(WORKDIR, ignore_errors=True)


@schema.parametrize()
@FUZZ
def test_as_a_researcher(case, keys):
    case.call_and_validate(headers=auth(keys["alice"]), checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_as_staff(case, keys):
    case.call_and_validate(headers=auth(keys["admin"]), checks=CHECKS)
