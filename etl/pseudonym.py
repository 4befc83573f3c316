"""Keyed pseudonyms for the contribution bound.

The contact key is normalised (so ``+92 300 1234567`` and ``0300-1234567`` are one person) and
replaced by HMAC-SHA256 under a secret key. The clear value is never stored or printed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_PHONE = re.compile(r"^\+?[\d\s\-().]{7,}$")


def normalise_contact(value: str) -> str:
    text = value.strip().casefold()
    if _PHONE.match(text):
        digits = re.sub(r"\D", "", text)
        if digits.startswith("0092"):
            digits = "0" + digits[4:]
        elif digits.startswith("92") and len(digits) == 12:
            digits = "0" + digits[2:]
        return digits
    return re.sub(r"\s+", "", text)


def pseudonymise(values: list[str], key: bytes) -> list[str]:
    """HMAC-SHA256 of each normalised contact key, as hex; equal inputs share the work."""
    memo: dict[str, str] = {}
    out = []
    for value in values:
        p = memo.get(value)
        if p is None:
            p = hmac.new(key, normalise_contact(value).encode("utf-8"), hashlib.sha256).hexdigest()
            memo[value] = p
        out.append(p)
    return out
