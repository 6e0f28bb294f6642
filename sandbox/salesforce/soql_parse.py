"""The SOQL subset the Salesforce emulator speaks: its grammar, syntax tree and parser, no HTTP.

    SELECT f1, f2, Rel.Field FROM Obj
    [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

    cond    := term {AND term} | term {OR term}        (mixing AND/OR needs parentheses, as in SOQL)
    term    := NOT term | ( cond ) | field op value | field [NOT] IN (value, ...)
               | field LIKE 'pattern'
    value   := 'string with \\' \\\\ \\n escapes' | number | true | false | null
               | 2026-11-24T10:00:00Z | 2026-11-24T10:00:00.000+0000 | 2026-11-24

Behaviour follows the SOQL reference where the emulator needs it: keywords and field names are
case-insensitive, text comparisons and LIKE are case-insensitive, ids compare on their first 15
characters, nulls sort first unless NULLS LAST. Errors carry Salesforce's error codes
(MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE) and a message in the same style.

The lexer is soql_lexer.py, the evaluator soql_eval.py, the schema types soql_schema.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from .soql_lexer import SoqlError, Token, malformed, tokenize


# --------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class FieldRef:
    path: str  # as written: "Status", "Group.Name"
    pos: int


@dataclass(frozen=True)
class Compare:
    field: FieldRef
    op: str  # = != < > <= >=
    value: Token


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Token, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    field: FieldRef
    value: Token


@dataclass(frozen=True)
class Not:
    inner: Condition


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    parts: tuple[Condition, ...]


Condition = Compare | InList | Like | Not | BoolOp


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Query:
    source: str
    fields: tuple[FieldRef, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int = 0
    count_only: bool = False  # SELECT COUNT() FROM ...


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.tok
        shown = token.text if token.kind != "end" else "<EOF>"
        return malformed(self.source, token.pos, f"unexpected token: '{shown}'")

    def expect_keyword(self, *words: str) -> None:
        for word in words:
            if self.tok.keyword != word:
                raise self.unexpected()
            self.i += 1

    def accept_keyword(self, word: str) -> bool:
        if self.tok.keyword == word:
            self.i += 1
            return True
        return False

    def field_ref(self) -> FieldRef:
        token = self.tok
        if token.kind != "ident" or token.keyword in {"from", "where", "and", "or", "not"}:
            raise self.unexpected()
        self.i += 1
        return FieldRef(token.text, token.pos)

    def query(self) -> Query:
        self.expect_keyword("select")
        fields: list[FieldRef] = []
        count_only = False
        if (
            self.tok.kind == "ident" and self.tok.text.lower() == "count"
            and self.tokens[self.i + 1].text == "(" and self.tokens[self.i + 2].text == ")"
        ):
            self.i += 3
            count_only = True
        else:
            fields.append(self.field_ref())
            while self.tok.text == ",":
                self.i += 1
                fields.append(self.field_ref())
        self.expect_keyword("from")
        if self.tok.kind != "ident" or self.tok.keyword:
            raise self.unexpected()
        sobject_token = self.next()
        where = None
        if self.accept_keyword("where"):
            where = self.condition()
        order: list[OrderItem] = []
        if self.accept_keyword("order"):
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.tok.text == ",":
                self.i += 1
                order.append(self.order_item())
        limit = None
        offset = 0
        if self.accept_keyword("limit"):
            limit = self.integer()
        if self.accept_keyword("offset"):
            offset = self.integer()
        if self.tok.kind != "end":
            raise self.unexpected()
        return Query(self.source, tuple(fields), sobject_token.text, sobject_token.pos, where,
                     tuple(order), limit, offset, count_only)

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise self.unexpected(token)
        return token.value

    def order_item(self) -> OrderItem:
        ref = self.field_ref()
        descending = False
        if self.accept_keyword("desc"):
            descending = True
        else:
            self.accept_keyword("asc")
        nulls_last = False
        if self.accept_keyword("nulls"):
            if self.accept_keyword("last"):
                nulls_last = True
            else:
                self.expect_keyword("first")
        return OrderItem(ref, descending, nulls_last)

    def condition(self) -> Condition:
        parts = [self.term()]
        op: str | None = None
        while self.tok.keyword in {"and", "or"}:
            word = self.tok.keyword
            if op is not None and word != op:
                raise self.unexpected()  # SOQL needs parentheses to mix AND and OR
            op = word
            self.i += 1
            parts.append(self.term())
        return parts[0] if op is None else BoolOp(op, tuple(parts))

    def term(self) -> Condition:
        if self.accept_keyword("not"):
            return Not(self.term())
        if self.tok.text == "(":
            self.i += 1
            inner = self.condition()
            if self.tok.text != ")":
                raise self.unexpected()
            self.i += 1
            return inner
        ref = self.field_ref()
        token = self.tok
        if token.kind == "op":
            self.i += 1
            op = "!=" if token.text == "<>" else token.text
            return Compare(ref, op, self.literal())
        if token.keyword == "like":
            self.i += 1
            value = self.literal()
            if value.kind != "string":
                raise self.unexpected(value)
            return Like(ref, value)
        negate = False
        if token.keyword == "not":
            self.i += 1
            negate = True
            if self.tok.keyword != "in":
                raise self.unexpected()
        if self.accept_keyword("in"):
            if self.tok.text != "(":
                raise self.unexpected()
            self.i += 1
            values = [self.literal()]
            while self.tok.text == ",":
                self.i += 1
                values.append(self.literal())
            if self.tok.text != ")":
                raise self.unexpected()
            self.i += 1
            return InList(ref, tuple(values), negate)
        raise self.unexpected()

    def literal(self) -> Token:
        token = self.tok
        if token.kind in {"string", "number", "datetime", "date"} or token.keyword in {
            "true", "false", "null"
        }:
            self.i += 1
            return token
        raise self.unexpected()


def parse(source: str) -> Query:
    """Parse one SOQL statement; raises SoqlError(MALFORMED_QUERY) with Salesforce's wording."""
    if not source.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>")
    return _Parser(source).query()
