"""Keyed pseudonyms for the contribution bound.

The contact key is normalised (so ``+92 300 1234567`` and ``0300-1234567`` are one person) and
replaced by HMAC-SHA256 under a secret key, kept as its first 64 bits. Two people whose
pseudonyms collided would share one bound (fewer cases kept, never more); at a million people
the chance is about 1 in 30 million. The clear value is never stored or printed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence


def normalise_contact(value: str) -> str:
    text = value.strip()
    if "@" not in text:
        digits = text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
        digits = digits.replace(".", "").removeprefix("+")
        if len(digits) >= 7 and digits.isdigit():
            if digits.startswith("0092"):
                return "0" + digits[4:]
            if digits.startswith("92") and len(digits) == 12:
                return "0" + digits[2:]
            return digits
    return "".join(text.casefold().split())


def _hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once.

    ``hmac.digest`` sets the key up again on every call, which dominates for short messages.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def mac(message: bytes) -> bytes:
        i = inner.copy()
        i.update(message)
        o = outer.copy()
        o.update(i.digest())
        return o.digest()

    return mac


def pseudonymise(values: Sequence[str], key: bytes) -> list[int]:
    """The first 64 bits of HMAC-SHA256 of each normalised contact key, as a signed integer."""
    mac = _hmac_sha256(key)
    return [
        int.from_bytes(mac(normalise_contact(v).encode("utf-8"))[:8], "big", signed=True)
        for v in values
    ]
