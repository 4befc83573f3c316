"""Keyed pseudonyms: of contact keys, for the contribution bound; of case references, against
loading a case twice.

A contact key is normalised first, so that one person written ten ways is one person: phone
numbers become E.164 (Google's libphonenumber, default region Pakistan), e-mails are
case-folded, and anything else is an opaque id. Every spelling then goes through HMAC-SHA256
under the secret key, kept as its first 64 bits. Two people whose pseudonyms collided would
share one bound (fewer cases kept, never more); at a million people the chance is about 1 in
30 million. Case references are hashed under the same key with another prefix, so a case
reference never matches a contact key. No clear value is ever stored or printed.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import phonenumbers

REGION = "PK"
CASE_REF_PREFIX = b"case_ref\x00"


@cache
def _translation() -> dict[int, str | None]:
    """Every non-ASCII Unicode decimal digit (Arabic-Indic, Urdu, Devanagari, ...) to its ASCII
    digit, and invisible format characters (direction marks, zero-width spaces, byte-order
    marks) removed: copied from an Urdu document with a number, they make one number two
    spellings. NFKC already folds full-width digits; it leaves these alone."""
    table: dict[int, str | None] = {}
    for c in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(c))
        if category == "Nd" and c > 0x7F:
            table[c] = str(unicodedata.decimal(chr(c)))
        elif category == "Cf":
            table[c] = None
    return table


def _clean(value: str) -> str:
    if value.isascii():  # NFKC leaves ASCII alone, and the table maps no ASCII character
        return value.strip()
    return unicodedata.normalize("NFKC", value).translate(_translation()).strip()


# Phone numbers hold no letters: an id such as P-SANA must not parse as a vanity number.
_PHONE_CHARS = re.compile(r"[0-9+\-(). /]+")
_PREFIXES = ("tel:", "mailto:")


def _mobile_pattern() -> str:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(REGION)
    assert metadata is not None and metadata.mobile is not None
    pattern = metadata.mobile.national_number_pattern
    assert isinstance(pattern, str)
    return pattern


# The common spellings of a Pakistani mobile number, taken without parsing when the number is
# a valid mobile number by libphonenumber's own pattern (tests/etl/test_pseudonym.py proves
# that this agrees with the parser).
_MOBILE = re.compile(_mobile_pattern())
_COMMON = re.compile(r"(?:0|\+92)(3[0-9]{9})")


def _is_email(text: str) -> bool:
    """``local@domain.tld`` without white space; linear (a regular expression with nested
    repetition backtracks for seconds on a long hostile value)."""
    local, at, domain = text.partition("@")
    if not (local and at and "." in domain) or "@" in domain:
        return False
    name, _, tld = domain.rpartition(".")
    return bool(name and tld) and not any(c.isspace() for c in text)


def _fast_mobile(text: str) -> str | None:
    m = _COMMON.fullmatch(text.replace(" ", "").replace("-", ""))
    if m is None or _MOBILE.fullmatch(m.group(1)) is None:
        return None
    return "+92" + m.group(1)


def _parsed_phone(text: str) -> str | None:
    if not _PHONE_CHARS.fullmatch(text) or not any(c.isdigit() for c in text):
        return None
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_contact(value: str) -> str:
    """One spelling per person: E.164, a case-folded e-mail, or an NFKC-normalised opaque id."""
    text = _clean(value)
    text = text.removeprefix("'").strip()  # the spreadsheet's "keep this as text" mark
    lowered = text.casefold()
    for prefix in _PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix) :].strip()
            lowered = lowered[len(prefix) :].strip()
            break
    if "@" in text:
        return lowered if _is_email(lowered) else text
    return _fast_mobile(text) or _parsed_phone(text) or text


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's (RFC 2104) inner and outer states for ``key``, computed once.

    ``hmac.digest`` sets the key up again on every call, which dominates for short messages.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _first_64_bits(messages: Iterable[bytes], key: bytes) -> list[int]:
    """The first 64 bits of HMAC-SHA256 of each message, as signed integers."""
    inner, outer = _hmac_states(key)
    inner_copy, outer_copy, to_int = inner.copy, outer.copy, int.from_bytes
    out = []
    for message in messages:  # one loop, no call per message: this runs a million times
        i = inner_copy()
        i.update(message)
        o = outer_copy()
        o.update(i.digest())
        out.append(to_int(o.digest()[:8], "big", signed=True))
    return out


def pseudonymise(values: Sequence[str], key: bytes) -> list[int]:
    """The first 64 bits of HMAC-SHA256 of each normalised contact key, as a signed integer.

    Each distinct spelling is normalised and hashed once.
    """
    distinct = list(set(values))
    hashed = _first_64_bits((normalise_contact(v).encode("utf-8") for v in distinct), key)
    memo = dict(zip(distinct, hashed, strict=True))
    return [memo[v] for v in values]


def normalise_case_ref(value: str) -> str:
    return _clean(value)


def case_ref_hashes(values: Sequence[str], key: bytes) -> list[int]:
    """The first 64 bits of HMAC-SHA256 of each normalised case reference, domain-separated."""
    return _first_64_bits(
        (CASE_REF_PREFIX + normalise_case_ref(v).encode("utf-8") for v in values), key
    )
