"""A1 notation: `'Tab'!A1:F`, `Tab!A:A`, `'It''s'!1:3`, `Tab`, `A1:B2` as grid ranges."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .model import GoogleApiError, Sheet, Spreadsheet


@dataclass(frozen=True)
class GridRange:
    sheet: Sheet
    start_row: int | None  # 0-based; None = unbounded
    end_row: int | None  # exclusive
    start_col: int | None
    end_col: int | None

    def bounded(self) -> tuple[int, int, int, int]:
        return (
            self.start_row or 0,
            self.end_row if self.end_row is not None else self.sheet.row_count,
            self.start_col or 0,
            self.end_col if self.end_col is not None else self.sheet.column_count,
        )

    def a1(self) -> str:
        r0, r1, c0, c1 = self.bounded()
        name = quote_sheet_title(self.sheet.title)
        return f"{name}!{column_letter(c0)}{r0 + 1}:{column_letter(max(c1, c0 + 1) - 1)}{max(r1, r0 + 1)}"


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + (ord(char) - 64)
    return index - 1


def quote_sheet_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(r"[A-Za-z]{1,3}\d+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


_CELLS = re.compile(r"^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$")


def parse_a1(book: Spreadsheet, text: str) -> GridRange:
    """Parse `'Tab'!A1:F`, `Tab!A:A`, `'It''s'!1:3`, `Tab`, `A1:B2` (first tab) into a GridRange."""

    def bad() -> GoogleApiError:
        return GoogleApiError(400, f"Unable to parse range: {text}")

    title: str | None
    cells: str | None
    if text.startswith("'"):
        i, buf = 1, []
        while True:
            if i >= len(text):
                raise bad()
            if text[i] == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    buf.append("'")
                    i += 2
                    continue
                i += 1
                break
            buf.append(text[i])
            i += 1
        title = "".join(buf)
        rest = text[i:]
        if rest == "":
            cells = None
        elif rest.startswith("!"):
            cells = rest[1:]
        else:
            raise bad()
    elif "!" in text:
        title, cells = text.split("!", 1)
    elif _CELLS.match(text) and any(ch.isalnum() for ch in text) and _looks_like_cells(text):
        title, cells = None, text
    else:
        title, cells = text, None
    if title is None:
        sheet = book.sheets[0]
    else:
        try:
            sheet = book.sheet(title)
        except KeyError:
            raise bad() from None
    if cells is None or cells == "":
        return GridRange(sheet, None, None, None, None)
    match = _CELLS.match(cells)
    if not match or not _looks_like_cells(cells):
        raise bad()
    c0, r0, c1, r1 = match.groups()
    has_colon = ":" in cells
    if not has_colon:
        if not c0 or not r0:
            raise bad()
        c1, r1 = c0, r0
    start_col = column_index(c0) if c0 else None
    start_row = int(r0) - 1 if r0 else None
    end_col = column_index(c1) + 1 if c1 else None
    end_row = int(r1) if r1 else None
    if (start_row is not None and start_row < 0) or (end_row is not None and end_row < 1):
        raise bad()
    if not c0 and not c1 and (not r0 or not r1):
        raise bad()
    if start_row is None and not c0:
        raise bad()
    return GridRange(sheet, start_row, end_row, start_col, end_col)


def _looks_like_cells(text: str) -> bool:
    match = _CELLS.match(text)
    if not match:
        return False
    c0, r0, c1, r1 = match.groups()
    if ":" not in text:
        return bool(c0 and r0)
    return bool((c0 or r0) and (c1 or r1))
