import math
import random
from decimal import Decimal

import pytest

from privacy import Epsilon, InvalidEpsilon


def test_parse_is_exact_decimal_rounded_up():
    assert Epsilon.parse("0.1").micro == 100_000
    assert Epsilon.parse(0.1).micro == 100_000  # what a person typed, not its binary value
    assert Epsilon.parse(1).micro == 1_000_000
    assert Epsilon.parse("0.0000001").micro == 1  # rounded up, never down
    assert Epsilon.parse("0.1000001").micro == 100_001


def test_measurement_floats_round_up():
    assert Epsilon.from_float_ceil(0.1).micro == 100_001  # binary 0.1 is above 0.1
    assert Epsilon.from_float_ceil(0.5).micro == 500_000
    assert Epsilon.from_float_ceil(0.0).micro == 0


@pytest.mark.parametrize("bad", ["-0.1", "abc", "nan", "inf", True, float("inf")])
def test_refuses_what_is_not_a_loss(bad):
    with pytest.raises(InvalidEpsilon):
        Epsilon.parse(bad)


def test_printed_as_decimals_and_added_as_integers():
    tenth = Epsilon.parse("0.1")
    total = Epsilon(0)
    for _ in range(10):
        total = total + tenth
    assert total == Epsilon.parse("1.0") and str(total) == "1"
    assert str(Epsilon.parse("0.25")) == "0.25" and str(Epsilon(1)) == "0.000001"
    assert str(Epsilon.parse("2") - Epsilon.parse("0.3")) == "1.7"


def test_largest_float_within_never_exceeds():
    rng = random.Random(7)
    for _ in range(500):
        eps = Epsilon(rng.randint(1, 5_000_000))
        x = eps.largest_float_within()
        assert Decimal(x) * 1_000_000 <= eps.micro
        assert Decimal(math.nextafter(x, math.inf)) * 1_000_000 > eps.micro or x == eps.micro / 1e6
