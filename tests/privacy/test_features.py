import subprocess
import sys

import opendp.prelude as dp
import pytest

from privacy import Epsilon, plan_release
from privacy._features import FeatureError


@pytest.mark.parametrize("feature", ["honest-but-curious", "idealized-numerics"])
def test_import_refuses_other_features(feature):
    code = f"import opendp.prelude as dp; dp.enable_features({feature!r}); import privacy"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "FeatureError" in result.stderr and feature in result.stderr


def test_a_feature_enabled_later_stops_releases():
    dp.enable_features("honest-but-curious")
    try:
        with pytest.raises(FeatureError):
            plan_release(
                sensitivity=1,
                cells=1,
                epsilon=Epsilon.parse("0.1"),
                max_epsilon=Epsilon.parse("1"),
                max_cells=10,
            )
    finally:
        dp.disable_features("honest-but-curious")
    plan_release(
        sensitivity=1,
        cells=1,
        epsilon=Epsilon.parse("0.1"),
        max_epsilon=Epsilon.parse("1"),
        max_cells=10,
    )


def test_only_contrib_is_enabled():
    from opendp.mod import GLOBAL_FEATURES

    assert set(GLOBAL_FEATURES) == {"contrib"}
