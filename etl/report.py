"""The load report: an operator's tool, so it may show exact counts (never serve it outside)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LoadReport:
    dataset: str
    version: int
    unchanged: bool
    file_sha256: str
    rows_read: int = 0
    rows_rejected: int = 0
    rejects_file: str | None = None
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    columns_dropped: list[str] = field(default_factory=list)
    cases_cut_by_person_bound: int = 0
    values_cut_by_multi_value_bound: int = 0
    cases_loaded: int = 0
    cases_loaded_by_year: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if self.unchanged:
            return (
                f"{self.dataset}: this file was already loaded as version {self.version}; "
                "nothing changed."
            )
        lines = [
            f"Loaded into {self.dataset}, version {self.version}",
            f"  rows read                      {self.rows_read:>10,}",
            f"  rows rejected                  {self.rows_rejected:>10,}",
        ]
        for reason, n in sorted(self.rejects_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {n:>8,}  {reason}")
        if self.rejects_file:
            lines.append(f"  rejects written to {self.rejects_file}")
        lines += [
            f"  cases cut by the person bound  {self.cases_cut_by_person_bound:>10,}",
            f"  values cut by the value bound  {self.values_cut_by_multi_value_bound:>10,}",
            f"  cases loaded                   {self.cases_loaded:>10,}",
        ]
        for year, n in self.cases_loaded_by_year.items():
            lines.append(f"    {year}  {n:>8,}")
        dropped = ", ".join(self.columns_dropped) or "none"
        lines.append(f"  columns dropped: {dropped}")
        return "\n".join(lines)
