"""Every error of the API, under one base: a status, a stable machine-readable code, and
details. Each surface renders them with its own handler (JSON for the REST API, GraphQL
errors with the code in ``extensions``, a page for the staff page, a line for the CLI).

Error messages never depend on the private data: the same query shape gets the same error
whether a category has cases or not.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from privacy.loss import Epsilon


def _shown(value: Any) -> Any:
    """A detail as the bodies show it: ε as a JSON number (like ``budget_remaining``)."""
    return value.as_float() if isinstance(value, Epsilon) else value


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
        shown = {key: _shown(value) for key, value in self.details.items()}
        return {"error": {"code": self.code, "message": self.message, **shown}}


class Unauthorized(AmaanError):
    status = 401
    code = "unauthorized"


class SignInRequired(AmaanError):
    """No valid staff session: the browser is sent to the sign-in page."""

    status = 401
    code = "sign_in_required"


class FormRefused(AmaanError):
    """A staff page form without its session's token."""

    status = 403
    code = "csrf"


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
    """A budget refusal; ``remaining`` and ``asked`` are ε (as an Epsilon or its text), shown as
    numbers."""

    status = 403
    EPSILONS = ("remaining", "asked")

    def __init__(self, message: str, **details: Any) -> None:
        for key in self.EPSILONS:
            if isinstance(details.get(key), str):
                details[key] = Epsilon.parse(details[key])
        super().__init__(message, **details)


class Forbidden(AmaanError):
    """Authenticated, but this account's role or grants do not allow the request."""

    status = 403
    code = "forbidden"


class ReleaseFailed(AmaanError):
    """A release failed after its data was read. It was charged and audited, and every
    repeat gets this same answer: nothing about the failure depends on the data."""

    status = 500
    code = "release_failed"


class InvalidChange(AmaanError):
    """A staff change that cannot be made as asked (a limit below what is spent, ...)."""

    status = 422
    code = "invalid_change"


class Conflict(AmaanError):
    status = 409
    code = "conflict"


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


class RequestRefused(AmaanError):
    """The GraphQL endpoint refused the HTTP request itself (no query, a mutation over GET,
    an unsupported content type): the API's error shape instead of strawberry's plain text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = ERROR_CODES.get(status, "bad_request")


def http_error_body(status: int, detail: object) -> dict[str, dict[str, str]]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    message = detail if isinstance(detail, str) and detail else phrase
    return {"error": {"code": ERROR_CODES.get(status, "http_error"), "message": message}}
