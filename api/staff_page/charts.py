"""The chart of the overview: ε spent per month (or week), stacked by account, as SVG.

Drawn on the server, with no script: labelled axes with units, a legend, and the same numbers
in a table beside it (the table is what screen readers read; the SVG is marked as an image
described by it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Literal

from sqlalchemy.orm import Session

from api.staff import budgets
from privacy import Epsilon

# Okabe-Ito: distinguishable with the common colour-vision deficiencies, all on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000")
MAX_SERIES = 6  # the rest are summed as "other accounts"
Period = Literal["month", "week"]


@dataclass
class Chart:
    by: Period
    periods: list[str]
    series: list[tuple[str, list[int]]]  # (label, micro-ε per period)

    @property
    def totals(self) -> list[int]:
        return [sum(values[i] for _, values in self.series) for i in range(len(self.periods))]

    def table(self) -> list[list[str]]:
        rows = []
        for i, period in enumerate(self.periods):
            cells = [str(Epsilon(values[i])) for _, values in self.series]
            rows.append([period, *cells, str(Epsilon(self.totals[i]))])
        return rows


def _period(moment: datetime, by: Period) -> str:
    if by == "month":
        return moment.strftime("%Y-%m")
    monday = moment.date() - timedelta(days=moment.weekday())
    return f"{monday.isoformat()}"


def _all_periods(first: datetime, last: datetime, by: Period) -> list[str]:
    periods: list[str] = []
    moment = first
    while True:
        label = _period(moment, by)
        if not periods or periods[-1] != label:
            periods.append(label)
        if label == _period(last, by):
            return periods
        moment += timedelta(days=7 if by == "week" else 28)


def spending(session: Session, slug: str, by: Period = "month") -> Chart:
    rows = budgets.spending(session, slug)
    if not rows:
        return Chart(by, [], [])
    periods = _all_periods(rows[0].at, rows[-1].at, by)
    index = {p: i for i, p in enumerate(periods)}
    per_account: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * len(periods))
    for row in rows:
        per_account[(row.account_id, row.name)][index[_period(row.at, by)]] += row.epsilon.micro
    ranked = sorted(per_account.items(), key=lambda kv: -sum(kv[1]))
    series = [(f"{name} (#{aid})", values) for (aid, name), values in ranked[:MAX_SERIES]]
    if len(ranked) > MAX_SERIES:
        rest = [sum(v[i] for _, v in ranked[MAX_SERIES:]) for i in range(len(periods))]
        series.append(("other accounts", rest))
    return Chart(by, periods, series)


def _nice_top(value: int) -> int:
    """A round number of micro-ε at or above the largest bar, for the y axis."""
    top = max(value, 1)
    step = 1
    while step * 10 <= top:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= top:
            return step * factor
    return step * 10


def svg(chart: Chart, title_id: str, table_id: str) -> str:
    """The stacked bar chart; ``title_id`` and ``table_id`` tie it to its caption and table."""
    width, height = 720, 300
    left, right, top, bottom = 64, 16, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(chart.periods), 1)
    top_value = _nice_top(max(chart.totals, default=0))
    bar_w = min(plot_w / n * 0.7, 48)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="{title_id}" '
        f'aria-describedby="{table_id}" class="chart" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for i in range(5):
        value = top_value * i // 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{Epsilon(value)}</text>'
        )
    label_every = max(1, n // 8)
    for i, period in enumerate(chart.periods):
        x = left + plot_w * i / n + (plot_w / n - bar_w) / 2
        y = top + plot_h
        for s, (label, values) in enumerate(chart.series):
            h = plot_h * values[i] / top_value
            if h <= 0:
                continue
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)}, {escape(period)}: '
                f"ε {Epsilon(values[i])}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 18}" '
                f'text-anchor="middle">{escape(period)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" '
        f'class="axis-title">{chart.by}</text>'
        f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" class="axis-title" '
        f'transform="rotate(-90 16 {top + plot_h / 2})">ε spent</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
