"""Reading record values the way a marketer would read them.

Field values arrive as whatever the tool holds: None, strings (maybe only whitespace), numbers,
booleans, lists (multi-enum fields), date strings. These helpers turn them into text, decide
emptiness and truth, and parse dates, without ever raising. They are on the hot path: keep them
plain functions over built-in types.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

from baton.core.records import Record

FieldReader = Callable[[Record], Any]

# Spellings of "yes" a checkbox, a sheet cell or an API gives us. Compared lower-cased, stripped.
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "checked"})

_SHOW_LIMIT = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def field_reader(field: str) -> FieldReader:
    """A function reading `field` from a record: `name` and `status` are the record's own."""
    if field == "name":
        return _read_name
    if field == "status":
        return _read_status

    def read(record: Record) -> Any:
        return record.fields.get(field)

    return read


def _read_name(record: Record) -> Any:
    return record.name


def _read_status(record: Record) -> Any:
    return record.status


def text(value: Any) -> str:
    """The value as stripped text: None → "", lists joined with ", ", 3.0 → "3"."""
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(part for part in (text(item) for item in value) if part)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def items(value: Any) -> list[str]:
    """The non-empty texts of a value: one for a scalar, one per item for a multi-value field."""
    if type(value) is str:  # the common case, first
        part = value.strip()
        return [part] if part else []
    if isinstance(value, list | tuple | set | frozenset):
        return [part for part in (text(item) for item in value) if part]
    part = text(value)
    return [part] if part else []


def is_empty(value: Any) -> bool:
    """None, "", whitespace only, and empty lists are empty; 0 and False are values."""
    if value is None:
        return True
    if type(value) is str:
        return not value.strip()
    if isinstance(value, dict):
        return not value
    if isinstance(value, list | tuple | set | frozenset):
        return all(is_empty(item) for item in value)
    return False


def is_true(value: Any) -> bool:
    """True for True, the number 1 and the words in TRUE_WORDS (any case); False otherwise."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    if isinstance(value, int | float):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return False


def show(value: Any) -> str:
    """A value quoted for a message: short, one line, control characters made visible."""
    shown = text(value)
    shown = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", shown)
    if len(shown) > _SHOW_LIMIT:
        shown = shown[: _SHOW_LIMIT - 1] + "…"
    return f"'{shown}'"


def label(field: str) -> str:
    """How a field is named in a message."""
    return {"name": "Name", "status": "Status"}.get(field, field)


def parse_date(value: Any) -> datetime | date | None:
    """An ISO date or date-time (aware or naive, `Z` allowed) from a value; None if it is not one."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw or len(raw) > 40:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        parsed = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1] in "zZ" else raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def compare_dates(left: datetime | date, right: datetime | date) -> int:
    """-1, 0 or 1; a bare date compared with a date-time compares by calendar day (UTC)."""
    if isinstance(left, datetime) != isinstance(right, datetime):
        left = left.astimezone(timezone.utc).date() if isinstance(left, datetime) else left
        right = right.astimezone(timezone.utc).date() if isinstance(right, datetime) else right
    return (left > right) - (left < right)
