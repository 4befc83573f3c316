"""The settings of liveness and of the audit key refuse unsafe values at start."""

import pytest
from pydantic import ValidationError

from schema.settings import DEMO_AUDIT_KEY, Settings


def test_the_audit_key_is_a_secret_in_production_and_public_elsewhere():
    assert Settings(environment="test").audit_secret() == DEMO_AUDIT_KEY.encode()
    key = "a-real-secret-of-some-length"
    assert Settings(environment="production", audit_key=key).audit_secret() == key.encode()
    for missing in ({}, {"audit_key": DEMO_AUDIT_KEY}):
        with pytest.raises(ValidationError, match="AMAAN_AUDIT_KEY must be set to a secret"):
            Settings(environment="production", **missing)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(audit_key="short")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("trusted_proxies", ["10.0.0.0/8", "not-an-address"], "AMAAN_TRUSTED_PROXIES must list"),
        ("trusted_proxies", ["*"], "AMAAN_TRUSTED_PROXIES must list"),
        ("lock_timeout_ms", 0, "greater than or equal to 1"),
        ("max_body_bytes", 10, "greater than or equal to 1024"),
        ("shutdown_timeout", 120, "less than or equal to 60"),
    ],
)
def test_bad_values_are_refused(field, value, problem):
    with pytest.raises(ValidationError, match=problem):
        Settings(**{field: value})


def test_trusted_proxies_take_addresses_and_networks():
    proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]
    assert Settings(trusted_proxies=proxies).trusted_proxies == proxies
