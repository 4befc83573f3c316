"""Configuration, read from ``AMAAN_*`` environment variables by one cached function.

Unsafe values are refused when the settings are built, so a process fails at start rather
than running in a degraded state.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from functools import cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SENSITIVE_VALUES: dict[str, list[str]] = {
    "age_band": ["U18"],
    "gender": ["GM"],
    "vulnerable_group": [
        "MINOR",
        "JOURNALIST",
        "HRD",
        "RELIGIOUS_MINORITY",
        "ETHNIC_MINORITY",
        "GENDER_MINORITY",
    ],
}

# A key that anyone can read in this repository; accepted only by `--demo-key`.
DEMO_PSEUDONYM_KEY = "amaan-demo-pseudonym-key-not-for-real-data"
# The audit chain's key when none is set, outside production only: public, so a chain keyed
# with it proves nothing to anyone who can write to the database.
DEMO_AUDIT_KEY = "amaan-demo-audit-key-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMAAN_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///amaan.db"
    pseudonym_key: SecretStr | None = None
    # The HMAC key of the audit chain; kept outside the database, so that write access to the
    # database is not enough to rewrite the log. Required in production.
    audit_key: SecretStr | None = None
    # How often committed audit entries are sealed into the chain (by each server worker, or
    # by ``amaan serve``'s own process when it runs several).
    audit_seal_interval: float = Field(default=1.0, ge=0.05, le=60.0)
    # Set by ``amaan serve`` for its workers: the process that seals for them. A worker whose
    # parent is not this process seals for itself.
    audit_sealer_pid: int | None = Field(default=None, ge=1)
    # Each worker checks readiness (/readyz) against the database at most once this often.
    readiness_interval: float = Field(default=1.0, ge=0.0, le=60.0)

    # Bounds on waiting, per database connection of the API and the staff commands (ms). On
    # PostgreSQL: lock_timeout, statement_timeout, idle_in_transaction_session_timeout; on
    # SQLite the lock timeout is the busy timeout (the others do not apply).
    lock_timeout_ms: int = Field(default=5_000, ge=1, le=600_000)
    statement_timeout_ms: int = Field(default=30_000, ge=1, le=3_600_000)
    idle_in_transaction_timeout_ms: int = Field(default=60_000, ge=1, le=3_600_000)
    # On SIGTERM a worker stops taking requests and lets those in flight finish for this many
    # seconds, then cancels the rest (their transactions roll back).
    shutdown_timeout: int = Field(default=5, ge=1, le=60)

    # The most bytes of a request body on /v1, /graphql and the admin page's forms.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Addresses or networks of proxies whose X-Forwarded-For / X-Forwarded-Proto are believed.
    # None by default: the client is the peer of the connection.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)
    # Networks whose clients may read /metrics without a key (everything but latency); a
    # staff key reads it from anywhere.
    metrics_networks: list[str] = Field(default_factory=list, max_length=100)
    # One JSON line per request on standard output, under `amaan serve`.
    request_log: bool = True

    max_cases_per_person: int = Field(default=2, ge=1, le=100)
    max_reject_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    # Bounds on one raw export: a file past one is refused, saying which and where.
    etl_max_field_chars: int = Field(default=65_536, ge=1_024, le=16 << 20)
    etl_max_record_bytes: int = Field(default=1 << 20, ge=4_096, le=64 << 20)
    etl_max_columns: int = Field(default=200, ge=20, le=10_000)

    suppression_threshold: int = Field(default=10, ge=1)
    sensitive_threshold: int = Field(default=20, ge=1)
    sensitive_values: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_SENSITIVE_VALUES.items()}
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)

    # Query policy.
    max_group_by: int = Field(default=3, ge=1, le=6)
    max_cells: int = Field(default=10_000, ge=1)

    # Privacy budgets in ε (decimals; stored as integer micro-ε).
    default_account_budget: Decimal = Field(default=Decimal("1.0"), gt=0)
    default_dataset_cap: Decimal = Field(default=Decimal("10.0"), gt=0)
    default_max_per_query: Decimal = Field(default=Decimal("0.5"), gt=0)

    # Requests a worker runs at once (more wait in its event loop). Python threads share one
    # core at a time, so a few suffice; more only lengthen the tail (see bench/README.md).
    max_in_flight: int = Field(default=4, ge=1, le=10)

    # Rate limits (slowapi strings), keyed by API key; by client address without a valid key.
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = Field(default="amaan", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    rate_limit_researcher: str = "30/minute"
    rate_limit_partner: str = "120/minute"
    rate_limit_admin: str = "300/minute"
    rate_limit_anonymous: str = "10/minute"

    # Browsers: origins allowed by CORS (never "*"), and whether /docs and /openapi.json are
    # served (default: only in development).
    cors_origins: list[str] = Field(default_factory=list)
    api_docs: bool | None = None

    @property
    def docs_enabled(self) -> bool:
        return self.environment == "development" if self.api_docs is None else self.api_docs

    def audit_secret(self) -> bytes:
        """The audit chain's key (the public demo key outside production when none is set)."""
        key = self.audit_key.get_secret_value() if self.audit_key else DEMO_AUDIT_KEY
        return key.encode("utf-8")

    def rate_limit_for(self, role: str) -> str:
        limit: str = getattr(self, f"rate_limit_{role}")
        return limit

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        from limits import parse_many

        for role in ("researcher", "partner", "admin", "anonymous"):
            value = self.rate_limit_for(role)
            try:
                parse_many(value)
            except ValueError:
                raise ValueError(
                    f"AMAAN_RATE_LIMIT_{role.upper()} must be a rate such as 30/minute, "
                    f"not {value!r}"
                ) from None
        _check_database_url(self.database_url)
        if not self.rate_limit_storage.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("AMAAN_RATE_LIMIT_STORAGE must be memory:// or a redis:// URL")
        if any(origin.strip() == "*" for origin in self.cors_origins):
            raise ValueError("AMAAN_CORS_ORIGINS must list origins; '*' is refused")
        if self.etl_max_record_bytes < self.etl_max_field_chars:
            raise ValueError(
                "AMAAN_ETL_MAX_RECORD_BYTES must be at least AMAAN_ETL_MAX_FIELD_CHARS"
            )
        if self.sensitive_threshold < self.suppression_threshold:
            raise ValueError(
                "AMAAN_SENSITIVE_THRESHOLD must be at least AMAAN_SUPPRESSION_THRESHOLD"
            )
        key = self.pseudonym_key.get_secret_value() if self.pseudonym_key else None
        if key is not None and len(key) < 16:
            raise ValueError("AMAAN_PSEUDONYM_KEY must be at least 16 characters")
        if self.default_max_per_query > self.default_dataset_cap:
            raise ValueError(
                "AMAAN_DEFAULT_MAX_PER_QUERY must not exceed AMAAN_DEFAULT_DATASET_CAP"
            )
        if self.environment == "production" and key == DEMO_PSEUDONYM_KEY:
            raise ValueError("AMAAN_PSEUDONYM_KEY is the public demo key; set a secret one")
        self._refuse_unsafe_audit_key()
        for name in ("trusted_proxies", "metrics_networks"):
            for network in getattr(self, name):
                try:
                    ipaddress.ip_network(network.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"AMAAN_{name.upper()} must list IP addresses or networks such as "
                        f"10.0.0.0/8, not {network[:64]!r}"
                    ) from None
        return self

    def _refuse_unsafe_audit_key(self) -> None:
        audit_key = self.audit_key.get_secret_value() if self.audit_key else None
        if audit_key is not None and len(audit_key) < 16:
            raise ValueError("AMAAN_AUDIT_KEY must be at least 16 characters")
        if self.environment == "production" and audit_key in (None, DEMO_AUDIT_KEY):
            raise ValueError(
                "AMAAN_AUDIT_KEY must be set to a secret in production (it keys the audit "
                "chain; keep it outside the database)"
            )


DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


def _check_database_url(url: str) -> None:
    """A URL this installation can connect with; the error never repeats the URL (it may
    hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    example = "sqlite:///amaan.db or postgresql+psycopg://user:pw@host:5432/db"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(f"AMAAN_DATABASE_URL is not a database URL; use {example}") from None
    if parsed.drivername not in DATABASE_SCHEMES:
        raise ValueError(
            f"AMAAN_DATABASE_URL must start with sqlite:// or postgresql+psycopg://, not "
            f"{parsed.drivername[:32]}://; use {example}"
        )
    if parsed.drivername.startswith("postgresql") and not parsed.database:
        raise ValueError(f"AMAAN_DATABASE_URL names no database; use {example}")


@cache
def get_settings() -> Settings:
    return Settings()
