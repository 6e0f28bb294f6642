"""A1 notation and grid coordinates: column letters, quoted tab names, whole-column ranges."""
from __future__ import annotations

from typing import Any


def column_letter(index: int) -> str:
    """0-based column index -> `A`, `B`, … `Z`, `AA`, …"""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def quote_tab(tab: str) -> str:
    """A1 sheet prefix; always quoted, quotes doubled: `'It''s'`."""
    return "'" + tab.replace("'", "''") + "'"


def row_range(tab: str, row: int) -> str:
    """One whole row, 1-based: `'Tab'!1:1`."""
    return f"{quote_tab(tab)}!{row}:{row}"


def column_range(tab: str, column: int) -> str:
    """One whole column, 0-based index: `'Tab'!C:C`."""
    letter = column_letter(column)
    return f"{quote_tab(tab)}!{letter}:{letter}"


def cell_range(sheet_id: int, row: int, col: int) -> dict[str, Any]:
    """The GridRange of one cell (0-based, exclusive ends)."""
    return {"sheetId": sheet_id, "startRowIndex": row, "endRowIndex": row + 1,
            "startColumnIndex": col, "endColumnIndex": col + 1}
