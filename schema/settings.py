"""Configuration, read from ``AMAAN_*`` environment variables by one cached function.

Unsafe values are refused when the settings are built, so a process fails at start rather
than running in a degraded state.
"""

from __future__ import annotations

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMAAN_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///amaan.db"
    pseudonym_key: SecretStr | None = None

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
        return self


@cache
def get_settings() -> Settings:
    return Settings()
