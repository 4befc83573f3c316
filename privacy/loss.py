"""Privacy loss as an exact value: integer micro-ε (1 ε = 1,000,000 micro-ε).

Budgets are added and compared as integers, never as floats. Converting from a float that a
measurement reported rounds up, so a charge never understates the loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from privacy.errors import InvalidEpsilon

MICRO = 1_000_000
MAX_EPSILON = 1_000_000  # far above any budget; keeps every ε and its message short


@dataclass(frozen=True, order=True)
class Epsilon:
    micro: int

    def __post_init__(self) -> None:
        if not isinstance(self.micro, int) or isinstance(self.micro, bool):
            raise TypeError("Epsilon.micro must be an int")
        if self.micro < 0:
            raise InvalidEpsilon("privacy loss cannot be negative")

    @classmethod
    def parse(cls, value: str | int | float | Decimal) -> Epsilon:
        """ε as written by a person ("0.1", 0.1, 1): exact decimal, rounded up to 1 micro-ε."""
        if isinstance(value, bool):
            raise InvalidEpsilon("epsilon must be a number")
        if isinstance(value, str) and not value.isascii():  # Decimal("٠.١") is 0.1
            raise InvalidEpsilon("epsilon must be written with ASCII digits, such as 0.1")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, ValueError):
            raise InvalidEpsilon(f"epsilon must be a decimal number, not {value!r}") from None
        if not number.is_finite():
            raise InvalidEpsilon("epsilon must be finite")
        if number < 0:
            raise InvalidEpsilon("epsilon must not be negative")
        if number > MAX_EPSILON:
            raise InvalidEpsilon(f"epsilon must be at most {MAX_EPSILON:,}")
        return cls(int((number * MICRO).to_integral_value(ROUND_CEILING)))

    @classmethod
    def from_float_ceil(cls, value: float) -> Epsilon:
        """ε reported by a measurement: the exact binary value, rounded up."""
        if not math.isfinite(value) or value < 0:
            raise InvalidEpsilon(f"not a finite privacy loss: {value}")
        return cls(int((Decimal(value) * MICRO).to_integral_value(ROUND_CEILING)))

    def largest_float_within(self) -> float:
        """The largest float that does not exceed this ε exactly."""
        x = self.micro / MICRO
        while Decimal(x) * MICRO > self.micro:
            x = math.nextafter(x, 0.0)
        return x

    def __add__(self, other: Epsilon) -> Epsilon:
        return Epsilon(self.micro + other.micro)

    def __sub__(self, other: Epsilon) -> Epsilon:
        return Epsilon(self.micro - other.micro)

    def __str__(self) -> str:
        whole, frac = divmod(self.micro, MICRO)
        return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)

    def as_float(self) -> float:
        """For display only; never add these."""
        return self.micro / MICRO


ZERO = Epsilon(0)
