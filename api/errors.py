"""One error base for the API: a status, a stable machine-readable code, and details.

Error messages never depend on the private data: the same query shape gets the same error
whether a category has cases or not.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class AmaanError(Exception):
    status = 400
    code = "bad_request"
    # A refusal the release service has already audited, with everything it wrote undone:
    # the request's transaction is committed (keeping the audit entry), not rolled back.
    recorded = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class NotFound(AmaanError):
    status = 404
    code = "not_found"


class InvalidQuery(AmaanError):
    status = 422
    code = "invalid_query"


class PrivacyRefused(AmaanError):
    """The privacy engine refused the query (ε out of range, too many cells, ...)."""

    status = 422


class BudgetExhausted(AmaanError):
    status = 403


class Forbidden(AmaanError):
    """Authenticated, but this account's role or grants do not allow the request."""

    status = 403
    code = "forbidden"


class ReleaseFailed(AmaanError):
    """A release failed after its data was read. It was charged and audited, and every
    repeat gets this same answer: nothing about the failure depends on the data."""

    status = 500
    code = "release_failed"


class Busy(AmaanError):
    """The database did not answer in time (a lock wait or a statement past its bound)."""

    status = 503
    code = "busy"


# Codes of the refusals that come from the framework rather than from us (no such route,
# method not allowed, ...), so that every error has the same shape.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def http_error_body(status: int, detail: object) -> dict[str, dict[str, str]]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    message = detail if isinstance(detail, str) and detail else phrase
    return {"error": {"code": ERROR_CODES.get(status, "http_error"), "message": message}}
