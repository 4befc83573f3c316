"""The one place OpenDP features are enabled: ``contrib`` and nothing else."""

from __future__ import annotations

# Not ``opendp.prelude``: it imports OpenDP's extras (polars, scikit-learn helpers and more),
# which Amaan never uses and which made every command and worker start about a second later.
from opendp.mod import GLOBAL_FEATURES, enable_features

ALLOWED = frozenset({"contrib"})


class FeatureError(RuntimeError):
    """An OpenDP feature other than ``contrib`` is enabled in this process."""


def assert_only_contrib() -> None:
    extra = set(GLOBAL_FEATURES) - ALLOWED
    if extra:
        raise FeatureError(
            "OpenDP features other than 'contrib' are enabled "
            f"({', '.join(sorted(extra))}); Amaan refuses to release anything under them"
        )


def enable() -> None:
    assert_only_contrib()
    enable_features("contrib")
