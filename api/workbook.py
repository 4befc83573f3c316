"""A release as an Excel workbook (openpyxl): the table on one sheet, what it means on another.

The table sheet has typed cells (counts and bounds are numbers, flags are booleans, a
suppressed count is an empty cell with its reason beside it), a bold frozen header and column
widths to fit. "About this table" holds the release's public facts and, in English and Urdu,
what the interval means, why a cell is blank and why rounded cells need not add up; Urdu
cells read right to left. Text is neutralised as in the CSV, so no cell is a formula. The
workbook's dates are the release's, so the same release gives the same file.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from api import about
from api.extract_table import Table, Value, neutralise

TABLE_SHEET = "Table"
ABOUT_SHEET = about.TITLE[0]
MAX_WIDTH = 60
BOLD = Font(bold=True)
URDU = Alignment(horizontal="right", vertical="top", wrap_text=True, readingOrder=2)
URDU_LABEL = Alignment(horizontal="right", readingOrder=2)
WRAPPED = Alignment(vertical="top", wrap_text=True)


def _cell(value: Value) -> Any:
    return neutralise(value) if isinstance(value, str) else value


def _table_sheet(sheet: Worksheet, table: Table) -> None:
    sheet.append(table.columns)
    for cell in sheet[1]:
        cell.font = BOLD
    for row in table.rows:
        sheet.append([_cell(v) for v in row])
    sheet.freeze_panes = "A2"
    for index, name in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        longest = max([len(name), *(len(str(row[index - 1] or "")) for row in table.rows)])
        sheet.column_dimensions[letter].width = min(longest + 2, MAX_WIDTH)
        if name.endswith("_label_ur"):
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.alignment = URDU_LABEL


def _about_sheet(sheet: Worksheet, meta: dict[str, Any], coverage: tuple[str, str]) -> None:
    sheet.append([about.TITLE[0], None, about.TITLE[1]])
    sheet["A1"].font = sheet["C1"].font = BOLD
    sheet["C1"].alignment = URDU
    sheet.append([])
    for fact in about.facts(meta, coverage):
        sheet.append([fact.en, _cell(fact.value), fact.ur])
        sheet.cell(sheet.max_row, 3).alignment = URDU
    for note in about.notes(meta):
        sheet.append([])
        sheet.append([note.en_heading, None, note.ur_heading])
        heading = sheet.max_row
        sheet.cell(heading, 1).font = sheet.cell(heading, 3).font = BOLD
        sheet.cell(heading, 3).alignment = URDU
        sheet.append([None, note.en, note.ur])
        sheet.cell(sheet.max_row, 2).alignment = WRAPPED
        sheet.cell(sheet.max_row, 3).alignment = URDU
    for letter, width in (("A", 28), ("B", 60), ("C", 60)):
        sheet.column_dimensions[letter].width = width


def workbook(
    table: Table, meta: dict[str, Any], coverage: tuple[str, str], released: datetime
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = TABLE_SHEET
    _table_sheet(sheet, table)
    _about_sheet(book.create_sheet(ABOUT_SHEET), meta, coverage)
    book.properties.creator = "Amaan"
    book.properties.created = book.properties.modified = released.replace(tzinfo=None)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
