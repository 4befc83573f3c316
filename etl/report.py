"""The load report: an operator's tool, so it may show exact counts (never serve it outside).

Every record read is accounted for exactly once (``balanced``): loaded, rejected, refused for
want of consent, skipped as a duplicate, or cut by the person bound. The loader refuses to
commit a batch whose report does not balance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

NO_CASE_REF = (
    "the file has no case_ref column: only its SHA-256 guards against loading it twice, so "
    "a re-export or a cumulative export of these cases would count them again"
)


@dataclass
class LoadReport:
    dataset: str
    version: int
    unchanged: bool
    file_sha256: str
    covers: str = ""  # the period this batch declared, YYYY-MM:YYYY-MM
    version_covers: str = ""  # the version's declared coverage, with the earlier batches
    rows_read: int = 0
    rows_rejected: int = 0
    rejects_file: str | None = None
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    columns_dropped: list[str] = field(default_factory=list)
    columns_dropped_unnamed: int = 0  # dropped columns whose header names are not shown
    consent_refused: int = 0
    duplicates_skipped: int = 0
    duplicates_within_file: int = 0
    duplicates_loaded_before: int = 0
    case_refs: bool = True  # whether duplicates were found by case reference
    warnings: list[str] = field(default_factory=list)
    cases_cut_by_person_bound: int = 0
    values_cut_by_multi_value_bound: int = 0
    cases_loaded: int = 0
    cases_loaded_by_year: dict[str, int] = field(default_factory=dict)

    def balanced(self) -> bool:
        """Whether every record read is counted exactly once."""
        return self.rows_read == (
            self.rows_rejected
            + self.consent_refused
            + self.duplicates_skipped
            + self.cases_cut_by_person_bound
            + self.cases_loaded
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.unchanged:
            return (
                f"{self.dataset}: this file was already loaded as version {self.version} "
                f"(declared coverage {self.covers}); nothing changed."
            )
        lines = [
            f"Loaded into {self.dataset}, version {self.version}",
            f"  declared coverage              {self.covers:>15}",
            f"  version covers                 {self.version_covers:>15}",
            f"  rows read                      {self.rows_read:>10,}",
            f"  rows rejected                  {self.rows_rejected:>10,}",
        ]
        for reason, n in sorted(self.rejects_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {n:>8,}  {reason}")
        if self.rejects_file:
            lines.append(f"  rejects written to {self.rejects_file}")
        lines.append(f"  consent to share refused       {self.consent_refused:>10,}")
        if self.case_refs:
            lines += [
                f"  duplicates skipped             {self.duplicates_skipped:>10,}",
                f"    {self.duplicates_within_file:>8,}  case_ref repeated in this file",
                f"    {self.duplicates_loaded_before:>8,}  case loaded by an earlier batch",
            ]
        else:
            lines.append("  duplicates skipped             not checked (no case_ref)")
        lines += [
            f"  cases cut by the person bound  {self.cases_cut_by_person_bound:>10,}",
            f"  values cut by the value bound  {self.values_cut_by_multi_value_bound:>10,}",
            f"  cases loaded                   {self.cases_loaded:>10,}",
        ]
        for year, n in self.cases_loaded_by_year.items():
            lines.append(f"    {year}  {n:>8,}")
        dropped = list(self.columns_dropped)
        if self.columns_dropped_unnamed:
            dropped.append(f"{self.columns_dropped_unnamed:,} whose names are not shown")
        lines.append(f"  columns dropped: {', '.join(dropped) or 'none'}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)
