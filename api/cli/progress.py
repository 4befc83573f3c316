"""The loader's progress bar (rich): share of the file read, rows, rows per second and the
time left. Only on a terminal: piped or redirected output stays plain text."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

Shown = Callable[[int, int, int], None]  # bytes read, file size, rows read (etl.stage)


def _columns() -> tuple[object, ...]:
    return (
        TextColumn("  reading"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TextColumn("time left"),
        TimeRemainingColumn(),
    )


@contextmanager
def load_progress(
    shown: bool = True, stream: TextIO | None = None, force: bool = False
) -> Iterator[Shown | None]:
    """A callback drawing the bar on ``stream`` (standard error), or None off a terminal."""
    stream = stream or sys.stderr
    if not shown or not (force or stream.isatty()):
        yield None
        return
    console = Console(file=stream, force_terminal=True if force else None)
    with Progress(*_columns(), console=console, transient=False) as progress:  # type: ignore[arg-type]
        task = progress.add_task("load", total=None, rows=0, rate=0.0)

        def show(done: int, total: int, rows: int) -> None:
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = rows / elapsed if elapsed > 0 else 0.0
            progress.update(task, completed=done, total=total, rows=rows, rate=rate)

        yield show
