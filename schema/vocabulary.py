"""The dimensions a query may group or filter by: the one vocabulary of the whole tree.

Each dimension's name, whether it is a time dimension, which stored dimension it rolls up
(quarter and year roll up month; complaint group, complaint type; FIA city, city), whether a
case may hold several of its values, and whether the raw export spells it as a code or an
English label. The code lists (``codelists/codelists.json``) hold the codes of every
dimension but time and must agree with this (``schema.codelists`` checks it as it loads);
time codes come from a dataset version's declared coverage (``codelists.time_codes``).

Everything else reads the vocabulary from here: the packed fact layout (``schema.facts``),
the warehouse query, the ETL's code book, the release pipeline, the catalogue and the GraphQL
``Dimension`` enum, which is generated from ``NAMES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Term:
    name: str
    time: bool = False
    rollup_of: str | None = None  # the stored dimension this one is derived from
    multi_valued: bool = False
    coded: bool = False  # the raw export holds a code or its English label


# The order is the order callers see (the catalogue, the GraphQL enum). The stored
# dimensions keep their relative order: it is the bit layout of the packed fact table.
VOCABULARY: tuple[Term, ...] = (
    Term("month", time=True),
    Term("quarter", time=True, rollup_of="month"),
    Term("year", time=True, rollup_of="month"),
    Term("complaint_type", coded=True),
    Term("complaint_group", rollup_of="complaint_type"),
    Term("gender", coded=True),
    Term("age_band"),  # banded from the export's age in whole years
    Term("province", coded=True),
    Term("city", coded=True),
    Term("fia_city", rollup_of="city"),
    Term("channel", coded=True),
    Term("platform", coded=True),
    Term("country", coded=True),
    Term("vulnerable_group", multi_valued=True, coded=True),
    Term("referral", multi_valued=True, coded=True),
)

TERMS: Mapping[str, Term] = MappingProxyType({t.name: t for t in VOCABULARY})
NAMES: tuple[str, ...] = tuple(TERMS)
TIME: tuple[str, ...] = tuple(t.name for t in VOCABULARY if t.time)
MULTI_VALUED: tuple[str, ...] = tuple(t.name for t in VOCABULARY if t.multi_valued)
# A roll-up and the stored dimension it derives from.
ROLLUPS: Mapping[str, str] = MappingProxyType(
    {t.name: t.rollup_of for t in VOCABULARY if t.rollup_of}
)
# What the fact table stores, in its packed order; roll-ups are derived from these.
STORED: tuple[str, ...] = tuple(t.name for t in VOCABULARY if t.rollup_of is None)
CODED: tuple[str, ...] = tuple(t.name for t in VOCABULARY if t.coded)
# Dimensions whose codes are a public code list (every one but time).
CODE_LISTED: tuple[str, ...] = tuple(t.name for t in VOCABULARY if not t.time)


def check_code_lists(declared: dict[str, tuple[bool, str | None]]) -> None:
    """Refuse code lists that disagree with the vocabulary: ``declared`` maps each code-list
    dimension to its (multi-valued, derived-from) flags as the code-list file states them."""
    if list(declared) != list(CODE_LISTED):
        raise ValueError(
            f"the code lists hold {list(declared)}; the vocabulary expects "
            f"{list(CODE_LISTED)}, in that order"
        )
    for name, (multi, derived_from) in declared.items():
        term = TERMS[name]
        if (multi, derived_from) != (term.multi_valued, term.rollup_of):
            raise ValueError(
                f"code list {name!r}: multi={multi}, derived_from={derived_from!r}; the "
                f"vocabulary says multi={term.multi_valued}, derived_from={term.rollup_of!r}"
            )
