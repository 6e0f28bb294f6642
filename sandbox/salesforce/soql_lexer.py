"""The SOQL lexer: tokens and literal decoding, the REST datetime formats, and the error
`SoqlError` with Salesforce's error codes and its "ERROR at Row:..:Column:.." message style.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is the REST errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2}))
   |(?P<date>\d{4}-\d{2}-\d{2})(?![\w:.])
   |(?P<number>-?\d+(?:\.\d+)?)(?![\w.])
   |(?P<string>'(?:[^'\\]|\\.)*')
   |(?P<op><=|>=|!=|<>|=|<|>)
   |(?P<punct>[(),])
   |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
    "nulls", "first", "last", "limit", "offset", "true", "false", "null",
}


@dataclass(frozen=True)
class Token:
    kind: str  # ws datetime date number string op punct ident end
    text: str
    pos: int
    value: Any = None  # decoded literal value

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "ident" and self.text.lower() in _KEYWORDS else None


def _decode_string(raw: str, pos: int, source: str) -> tuple[str, str]:
    """Decode a quoted SOQL literal; also return a LIKE regex of it (\\% and \\_ stay literal)."""
    body = raw[1:-1]
    out: list[str] = []
    pattern: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                pattern.append(re.escape(_ESCAPES[nxt]))
                i += 2
            elif nxt in "%_":
                out.append("\\" + nxt)  # kept as written outside LIKE, as Salesforce does
                pattern.append(re.escape(nxt))
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6] or ""):
                decoded = chr(int(body[i + 2 : i + 6], 16))
                out.append(decoded)
                pattern.append(re.escape(decoded))
                i += 6
            else:
                raise malformed(source, pos + 1 + i, f"Invalid string literal '{raw}'. "
                                 "Illegal character sequence '\\" + nxt + "' in string literal.")
        else:
            out.append(char)
            pattern.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
            i += 1
    return "".join(out), "".join(pattern)


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            if source[pos] == "'":
                raise malformed(source, pos, "unexpected token: unterminated string literal")
            raise malformed(source, pos, f"unexpected token: '{source[pos]}'")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind != "ws":
            value: Any = None
            if kind == "string":
                value = _decode_string(text, pos, source)
            elif kind == "number":
                value = float(text) if "." in text else int(text)
            elif kind == "datetime":
                value = parse_datetime(text)
            elif kind == "date":
                value = date.fromisoformat(text)
            tokens.append(Token(kind, text, pos, value))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def parse_datetime(text: str) -> datetime:
    """A SOQL/REST datetime: 2026-11-24T10:00:00Z, ...:00.000+0000, ...:00+01:00."""
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Salesforce's wire format: 2026-11-24T10:00:00.000+0000 (UTC, milliseconds)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _row_col(source: str, pos: int) -> tuple[int, int]:
    row = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return row, col


def error_at(code: str, source: str, pos: int, text: str) -> SoqlError:
    row, col = _row_col(source, pos)
    return SoqlError(code, f"\n{source}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{text}")


def malformed(source: str, pos: int, text: str) -> SoqlError:
    return error_at("MALFORMED_QUERY", source, pos, text)
