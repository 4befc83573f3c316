"""The period a load declares it covers (``--covers 2017-01:2024-12``).

A dataset version's coverage is public metadata: the API lists it, validates periods and
builds time keys from it. So it is declared, never observed: the union of the periods its
batches declared, not the months that happen to hold cases (one case dated a month later
would otherwise change what everyone sees). Rows dated outside a batch's declared period are
rejected. A union with a gap would make the public month list claim months no batch covers,
so a batch must overlap or adjoin what the dataset already covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from etl.errors import LoadRefused
from schema.facts import month_index

FIRST_MONTH = "2016-01"  # no case is dated earlier (etl.transform.FIRST_DATE)
_COVERS = re.compile(r"([0-9]{4})-([0-9]{2}):([0-9]{4})-([0-9]{2})")  # [0-9]: ASCII only
EXAMPLE = "YYYY-MM:YYYY-MM, such as 2017-01:2024-12"


@dataclass(frozen=True)
class Coverage:
    first: str  # YYYY-MM, inclusive
    last: str

    @classmethod
    def parse(cls, text: str, today: date | None = None) -> Coverage:
        """Strictly ``YYYY-MM:YYYY-MM`` in ASCII digits, from 2016-01 to the current month."""
        m = _COVERS.fullmatch(text)
        if m is None:
            raise ValueError(f"must be two months written {EXAMPLE}")
        y1, m1, y2, m2 = (int(g) for g in m.groups())
        if not (1 <= m1 <= 12 and 1 <= m2 <= 12):
            raise ValueError(f"months run from 01 to 12 ({EXAMPLE})")
        covers = cls(f"{y1:04d}-{m1:02d}", f"{y2:04d}-{m2:02d}")
        if covers.first > covers.last:
            raise ValueError("the first month must not be after the last")
        if covers.first < FIRST_MONTH:
            raise ValueError(f"must not start before {FIRST_MONTH}")
        today = today or date.today()
        if covers.last > f"{today.year:04d}-{today.month:02d}":
            raise ValueError("must not end after the current month")
        return covers

    def text(self) -> str:
        return f"{self.first}:{self.last}"

    def month_indexes(self) -> tuple[int, int]:
        """The first and last month as ``schema.facts`` month indexes."""
        return (
            month_index(int(self.first[:4]), int(self.first[5:])),
            month_index(int(self.last[:4]), int(self.last[5:])),
        )

    def joined(self, earlier: Coverage | None) -> Coverage:
        """The coverage of a version made of the earlier batches and this one.

        Refused when the union would have a gap.
        """
        if earlier is None:
            return self
        lo, hi = self.month_indexes()
        before_lo, before_hi = earlier.month_indexes()
        if lo > before_hi + 1 or hi < before_lo - 1:
            raise LoadRefused(
                f"--covers {self.text()} leaves a gap: the dataset covers {earlier.first} to "
                f"{earlier.last}, and a version's coverage must be one unbroken period. "
                "Declare a period that overlaps or adjoins it (or load the missing months)."
            )
        return Coverage(min(self.first, earlier.first), max(self.last, earlier.last))
