"""Python-side "users" for tests, the demo and benchmarks: create and share spreadsheets, edit,
sort, insert and delete rows, write notes by hand, and read what a person sees."""
from __future__ import annotations

from typing import Any

from .model import Cell, Sheet, Spreadsheet, parse_user_entered
from .state import SheetsState


class SheetsUsers(SheetsState):
    # -- Python-side "users" for tests, the demo and benchmarks

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        tabs: dict[str, list[list[Any]]],
        *,
        sheet_ids: dict[str, int] | None = None,
    ) -> str:
        """Create a spreadsheet; tab rows are typed as text (like RAW), numbers stay numbers."""
        with self.lock:
            sheets = []
            for tab, rows in tabs.items():
                sheet_id = (sheet_ids or {}).get(tab, next(self._sheet_ids))
                sheet = Sheet(sheet_id, tab)
                sheet.rows = [[Cell(value=v) if v not in (None, "") else None for v in row] for row in rows]
                sheet.row_count = max(1000, len(rows) + 100)
                sheet.column_count = max(26, max((len(r) for r in rows), default=0))
                sheets.append(sheet)
            self.books[spreadsheet_id] = Spreadsheet(spreadsheet_id, title, sheets, 1, self.clock.now())
            return spreadsheet_id

    def share_only_with(self, spreadsheet_id: str, emails: set[str] | None) -> None:
        with self.lock:
            self.books[spreadsheet_id].readers = emails

    def share_as_viewer(self, spreadsheet_id: str, emails: set[str]) -> None:
        """Viewer access: reads work, every write is 403 (as Drive's "Viewer" role)."""
        with self.lock:
            self.books[spreadsheet_id].viewers = set(emails)

    def sheet(self, spreadsheet_id: str, tab: str) -> Sheet:
        return self.books[spreadsheet_id].sheet(tab)

    def version(self, spreadsheet_id: str) -> int:
        return self.books[spreadsheet_id].version

    def header(self, spreadsheet_id: str, tab: str) -> list[str]:
        rows = self.values(spreadsheet_id, tab)
        return rows[0] if rows else []

    def row_of(self, spreadsheet_id: str, tab: str, key_column: str, key: str) -> int:
        """The 0-based row index of the first row whose `key_column` shows `key`."""
        with self.lock:
            rows = self.values(spreadsheet_id, tab)
            col = rows[0].index(key_column)
            for index, row in enumerate(rows[1:], start=1):
                if col < len(row) and row[col] == key:
                    return index
            raise KeyError(key)

    def set_cell(
        self,
        spreadsheet_id: str,
        tab: str,
        key_column: str,
        key: str,
        column: str,
        value: Any,
        *,
        user_entered: bool = False,
    ) -> None:
        """A person edits one cell of the row keyed `key`; typed as text unless `user_entered`."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            row = self.row_of(spreadsheet_id, tab, key_column, key)
            col = self.header(spreadsheet_id, tab).index(column)
            new = parse_user_entered(value) if user_entered else Cell(value=value)
            cell = sheet.ensure(row, col)
            cell.value, cell.formula = new.value, new.formula
            self._touch(book)

    def sort_rows(self, spreadsheet_id: str, tab: str, column: str, descending: bool = False) -> None:
        """Sort the rows under the header by a column's shown text (notes move with their rows)."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            col = self.header(spreadsheet_id, tab).index(column)

            def sort_key(row: list[Cell | None]) -> str:
                cell = row[col] if col < len(row) else None
                return (cell.formatted() or "") if cell is not None else ""

            sheet.rows[1:] = sorted(sheet.rows[1:], key=sort_key, reverse=descending)
            self._touch(book)

    def insert_row(self, spreadsheet_id: str, tab: str, index: int, values: list[Any]) -> None:
        """Insert a row at 0-based `index` (1 = just under the header), pushing the rest down."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            while len(sheet.rows) < index:
                sheet.rows.append([])
            sheet.rows.insert(index, [Cell(value=v) if v not in (None, "") else None for v in values])
            sheet.row_count += 1
            self._touch(book)

    def delete_row(self, spreadsheet_id: str, tab: str, index: int) -> None:
        """Delete the row at 0-based `index`."""
        with self.lock:
            book = self.books[spreadsheet_id]
            sheet = book.sheet(tab)
            if index < len(sheet.rows):
                del sheet.rows[index]
            sheet.row_count -= 1
            self._touch(book)

    def set_note(self, spreadsheet_id: str, tab: str, row: int, col: int, text: str | None) -> None:
        """A person writes (or clears) a note by hand."""
        with self.lock:
            book = self.books[spreadsheet_id]
            book.sheet(tab).ensure(row, col).note = text or None
            self._touch(book)

    def values(self, spreadsheet_id: str, tab: str) -> list[list[str]]:
        """What a person sees: formatted text, ragged like the API."""
        with self.lock:
            sheet = self.books[spreadsheet_id].sheet(tab)
            out = []
            for line in sheet.rows:
                row = [(c.formatted() or "") if c is not None else "" for c in line]
                while row and row[-1] == "":
                    row.pop()
                out.append(row)
            while out and not out[-1]:
                out.pop()
            return out

    def note(self, spreadsheet_id: str, tab: str, row: int, col: int) -> str | None:
        with self.lock:
            cell = self.books[spreadsheet_id].sheet(tab).cell(row, col)
            return cell.note if cell is not None else None

    def notes(self, spreadsheet_id: str, tab: str) -> dict[tuple[int, int], str]:
        """Every note of a tab by (0-based row, 0-based column)."""
        with self.lock:
            sheet = self.books[spreadsheet_id].sheet(tab)
            return {
                (r, c): cell.note
                for r, line in enumerate(sheet.rows)
                for c, cell in enumerate(line)
                if cell is not None and cell.note
            }

    def formula_cells(self, spreadsheet_id: str, tab: str | None = None) -> list[tuple[str, int, int, str]]:
        """Every cell holding a formula: (tab, row, col, formula). Empty means nothing became one."""
        with self.lock:
            book = self.books[spreadsheet_id]
            return [
                (sheet.title, r, c, cell.formula)
                for sheet in book.sheets
                if tab is None or sheet.title == tab
                for r, line in enumerate(sheet.rows)
                for c, cell in enumerate(line)
                if cell is not None and cell.formula is not None
            ]

    def raw_cell(self, spreadsheet_id: str, tab: str, row: int, col: int) -> Cell | None:
        with self.lock:
            return self.books[spreadsheet_id].sheet(tab).cell(row, col)
