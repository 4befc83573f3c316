"""Turning the raw export's free spellings into codes.

Codes and English labels are accepted in any letter case; other known spellings come from a
mapping file (``aliases.json`` by default). Matching folds case and runs of white space.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from schema.codelists import codelists
from schema.vocabulary import CODED

_SPACE = re.compile(r"\s+")

CODED_DIMENSIONS = CODED  # the dimensions the export spells as codes or English labels


def fold(text: str) -> str:
    return _SPACE.sub(" ", text.strip()).casefold()


@dataclass(frozen=True)
class CodeBook:
    """For each coded dimension, folded spelling -> code."""

    lookups: dict[str, dict[str, str]]

    def lookup(self, dimension: str) -> dict[str, str]:
        return self.lookups[dimension]


def load_aliases(path: Path | None = None) -> dict[str, dict[str, str]]:
    if path is None:
        text = resources.files("etl").joinpath("aliases.json").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    raw = json.loads(text)
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def build_codebook(extra_aliases: Path | None = None) -> CodeBook:
    lists = codelists()
    aliases = load_aliases()
    if extra_aliases is not None:
        for dim, mapping in load_aliases(extra_aliases).items():
            aliases.setdefault(dim, {}).update(mapping)
    lookups: dict[str, dict[str, str]] = {}
    for dim in CODED_DIMENSIONS:
        valid = set(lists[dim].code_list())
        table: dict[str, str] = {}
        for spelling, code in aliases.get(dim, {}).items():
            if code not in valid:
                raise ValueError(f"alias {spelling!r} for {dim} points to unknown code {code!r}")
            table[fold(spelling)] = code
        for c in lists[dim].codes:
            table[fold(c.en)] = c.code
            table[fold(c.code)] = c.code
        lookups[dim] = table
    return CodeBook(lookups)
