"""What the client raises: ``AmaanError`` for every refusal, with the API's own ``code``.

AmaanError
├── ApiError          the API answered with an error (``status`` is its HTTP status)
└── ConnectionFailed  no answer: the server could not be reached or did not reply in time
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx


class AmaanError(Exception):
    """A refusal or failure. ``code`` is stable and machine-readable (``invalid_query``,
    ``account_budget_exceeded``, ``rate_limited``, ...), ``message`` says what to change,
    ``status`` is the HTTP status (0 without an answer), ``details`` holds the rest of the
    error (``field``, ``valid``, ``remaining``, ``asked``, ...)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 0,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.retry_after = retry_after  # seconds, when the API said when to try again

    @property
    def field(self) -> str | None:
        """The input the API found wrong (``epsilon``, ``group_by``, ...), if it named one."""
        field = self.details.get("field")
        return field if isinstance(field, str) else None

    @property
    def valid(self) -> list[str] | None:
        """The valid values of that input, when the API listed them."""
        valid = self.details.get("valid")
        return valid if isinstance(valid, list) else None


class ApiError(AmaanError):
    pass


class ConnectionFailed(AmaanError):
    pass


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def from_response(response: httpx.Response) -> ApiError:
    """The API's error body ``{"error": {"code", "message", ...}}`` as an exception; any other
    body (a proxy's page) as ``http_<status>``."""
    error: Any = None
    with contextlib.suppress(ValueError, AttributeError):
        error = response.json().get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(f"http_{response.status_code}", text, response.status_code)
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    return ApiError(
        error["code"],
        str(error.get("message", "")),
        response.status_code,
        details,
        _retry_after(response),
    )
