"""The one place OpenDP features are enabled: ``contrib`` and nothing else."""

from __future__ import annotations

import opendp.prelude as dp
from opendp.mod import GLOBAL_FEATURES

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
    dp.enable_features("contrib")
