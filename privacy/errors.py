"""Errors of the privacy library, each with a stable machine-readable ``code``."""

from __future__ import annotations

from typing import Any


class PrivacyError(ValueError):
    code = "privacy_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class InvalidEpsilon(PrivacyError):
    code = "invalid_epsilon"


class EpsilonAboveMaximum(PrivacyError):
    code = "epsilon_above_maximum"


class MarginUnreachable(PrivacyError):
    code = "margin_needs_too_much_epsilon"


class TooManyCells(PrivacyError):
    code = "too_many_cells"


class MalformedQuery(PrivacyError):
    code = "invalid_query"
