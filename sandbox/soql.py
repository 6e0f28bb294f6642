"""A SOQL subset for the Salesforce emulator: a parser and an evaluator, no HTTP.

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
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Catalog",
    "FieldType",
    "ID_TYPES",
    "Relationship",
    "TEXT_TYPES",
    "format_datetime",
    "parse_datetime",
    "ObjectSchema",
    "Query",
    "SoqlError",
    "compile_query",
    "parse",
]


class SoqlError(Exception):
    """A query Salesforce would refuse; `code` is the REST errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FieldType(StrEnum):
    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    PICKLIST = "picklist"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    DOUBLE = "double"
    INT = "int"
    ANY = "anyType"


TEXT_TYPES = {
    FieldType.STRING, FieldType.PICKLIST, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PHONE,
}
ID_TYPES = {FieldType.ID, FieldType.REFERENCE}


@dataclass(frozen=True)
class Relationship:
    name: str  # "Owner"
    id_field: str  # "OwnerId"
    target: str  # "User"


@dataclass
class ObjectSchema:
    """What the evaluator needs to know about one sObject type."""

    name: str
    fields: dict[str, FieldType]  # canonical API name -> type
    relationships: list[Relationship] = field(default_factory=list)
    computed: dict[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    filterable: bool = True  # long text areas etc. are refused in WHERE by real Salesforce
    unfilterable_fields: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): name for name in self.fields}
        self._rel_by_lower = {rel.name.lower(): rel for rel in self.relationships}

    def canonical(self, name: str) -> str | None:
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Relationship | None:
        return self._rel_by_lower.get(name.lower())


class Catalog:
    """The interface the evaluator needs from the org: schemas and lookups by id."""

    def schema(self, sobject: str) -> ObjectSchema | None:  # pragma: no cover - interface
        raise NotImplementedError

    def get_row(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:  # pragma: no cover
        raise NotImplementedError


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
                raise _malformed(source, pos + 1 + i, f"Invalid string literal '{raw}'. "
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
                raise _malformed(source, pos, "unexpected token: unterminated string literal")
            raise _malformed(source, pos, f"unexpected token: '{source[pos]}'")
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


def _error(code: str, source: str, pos: int, text: str) -> SoqlError:
    row, col = _row_col(source, pos)
    return SoqlError(code, f"\n{source}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{text}")


def _malformed(source: str, pos: int, text: str) -> SoqlError:
    return _error("MALFORMED_QUERY", source, pos, text)


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
        return _malformed(self.source, token.pos, f"unexpected token: '{shown}'")

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


# --------------------------------------------------------------------------------------------
# Evaluation

Getter = Callable[[Mapping[str, Any]], Any]


@dataclass
class CompiledQuery:
    """A query bound to a catalog: filter, sort and render functions."""

    query: Query
    schema: ObjectSchema
    matches: Callable[[Mapping[str, Any]], bool]
    sort_key: Callable[[Sequence[Mapping[str, Any]]], list[Mapping[str, Any]]]
    render: Callable[[Mapping[str, Any]], dict[str, Any]]

    def run(self, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        found = [row for row in rows if self.matches(row)]
        found = self.sort_key(found)
        start = self.query.offset
        end = None if self.query.limit is None else start + self.query.limit
        return found[start:end]


def compile_query(
    query: Query | str,
    catalog: Catalog,
    render_value: Callable[[FieldType, Any], Any] | None = None,
    attributes: Callable[[str, str], dict[str, Any]] | None = None,
) -> CompiledQuery:
    """Resolve the query's names against `catalog` (INVALID_TYPE / INVALID_FIELD) and compile it."""
    if isinstance(query, str):
        query = parse(query)
    schema = catalog.schema(query.sobject)
    if schema is None:
        raise _error("INVALID_TYPE", query.source, query.sobject_pos,
                     f"sObject type '{query.sobject}' is not supported. If you are attempting to "
                     "use a custom object, be sure to append the '__c' after the entity name. "
                     "Please reference your WSDL or the describe call for the appropriate names.")
    to_wire = render_value or _default_render
    make_attributes = attributes or (lambda sobject, record_id: {"type": sobject})
    resolver = _Resolver(query, schema, catalog)

    # SELECT list: resolve now so an unknown field fails before any row is read
    selected = [resolver.resolve(ref) for ref in query.fields]
    matches = _compile_condition(query.where, resolver) if query.where else (lambda row: True)
    sorter = _compile_order(query.order_by, resolver)

    def render(row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": make_attributes(schema.name, row.get("Id", ""))}
        for path, ftype, getter in selected:
            if len(path) == 1:
                out[path[0]] = to_wire(ftype, getter(row))
                continue
            # Rel.Field: a nested record, or null when the reference is empty
            related = resolver.related_row(row, path[:-1])
            target = out
            for depth, name in enumerate(path[:-1]):
                existing = target.get(name)
                if related is None:
                    if name not in target:
                        target[name] = None
                    break
                if not isinstance(existing, dict):
                    rel_schema = resolver.schema_at(path[: depth + 1])
                    node_row = resolver.related_row(row, path[: depth + 1])
                    existing = {"attributes": make_attributes(rel_schema.name,
                                                              (node_row or {}).get("Id", ""))}
                    target[name] = existing
                target = existing
            else:
                target[path[-1]] = to_wire(ftype, getter(row))
        return out

    return CompiledQuery(query, schema, matches, sorter, render)


def _default_render(ftype: FieldType, value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Resolver:
    """Turns field references into (canonical path, type, getter)."""

    def __init__(self, query: Query, schema: ObjectSchema, catalog: Catalog) -> None:
        self.query = query
        self.schema = schema
        self.catalog = catalog

    def invalid_field(self, ref: FieldRef, name: str, entity: str) -> SoqlError:
        if "." in ref.path and name != ref.path.split(".")[-1]:
            text = (f"Didn't understand relationship '{name}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.")
        else:
            text = (f"No such column '{name}' on entity '{entity}'. If you are attempting to use "
                    "a custom field, be sure to append the '__c' after the custom field name. "
                    "Please reference your WSDL or the describe call for the appropriate names.")
        return _error("INVALID_FIELD", self.query.source, ref.pos, text)

    def schema_at(self, rel_path: Sequence[str]) -> ObjectSchema:
        schema = self.schema
        for name in rel_path:
            rel = schema.relationship(name)
            assert rel is not None
            target = self.catalog.schema(rel.target)
            assert target is not None
            schema = target
        return schema

    def related_row(self, row: Mapping[str, Any], rel_path: Sequence[str]) -> Mapping[str, Any] | None:
        schema = self.schema
        current: Mapping[str, Any] | None = row
        for name in rel_path:
            if current is None:
                return None
            rel = schema.relationship(name)
            assert rel is not None
            ref_id = current.get(rel.id_field)
            current = self.catalog.get_row(rel.target, ref_id) if ref_id else None
            target = self.catalog.schema(rel.target)
            assert target is not None
            schema = target
        return current

    def resolve(self, ref: FieldRef) -> tuple[tuple[str, ...], FieldType, Getter]:
        parts = ref.path.split(".")
        # Salesforce accepts the object's own name as a prefix: Lead.Status
        if len(parts) > 1 and parts[0].lower() == self.schema.name.lower() and \
                self.schema.relationship(parts[0]) is None:
            parts = parts[1:]
        schema = self.schema
        canonical_rel: list[str] = []
        for name in parts[:-1]:
            rel = schema.relationship(name)
            target = self.catalog.schema(rel.target) if rel else None
            if rel is None or target is None:
                raise self.invalid_field(ref, name, schema.name)
            canonical_rel.append(rel.name)
            schema = target
        leaf = schema.canonical(parts[-1])
        if leaf is None:
            raise self.invalid_field(ref, parts[-1], schema.name)
        ftype = schema.fields[leaf]
        leaf_get = schema.computed.get(leaf)
        if leaf_get is None:
            def leaf_get(row: Mapping[str, Any], _leaf: str = leaf) -> Any:
                return row.get(_leaf)

        if not canonical_rel:
            return (leaf,), ftype, leaf_get
        rel_path = tuple(canonical_rel)

        def getter(row: Mapping[str, Any]) -> Any:
            related = self.related_row(row, rel_path)
            return None if related is None else leaf_get(related)

        return (*rel_path, leaf), ftype, getter


def _literal_for(token: Token, ftype: FieldType, ref: FieldRef, query: Query) -> Any:
    """The Python value of a literal, checked against the field's type as Salesforce does."""
    if token.keyword == "null":
        return None
    name = ref.path

    def wrong(expected: str, quoted: bool) -> SoqlError:
        hint = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return _error("INVALID_FIELD", query.source, token.pos,
                      f"value of filter criterion for field '{name}' must be of type {expected} "
                      f"and {hint}")

    if ftype in TEXT_TYPES or ftype in ID_TYPES:
        if token.kind != "string":
            raise wrong("string" if ftype not in ID_TYPES else "id", True)
        return token.value[0]
    if ftype == FieldType.BOOLEAN:
        if token.keyword not in {"true", "false"}:
            raise wrong("boolean", False)
        return token.keyword == "true"
    if ftype == FieldType.DATETIME:
        if token.kind == "datetime":
            return token.value
        raise wrong("dateTime", False)
    if ftype == FieldType.DATE:
        if token.kind == "date":
            return token.value
        raise wrong("date", False)
    if ftype in {FieldType.DOUBLE, FieldType.INT}:
        if token.kind != "number":
            raise wrong("double" if ftype == FieldType.DOUBLE else "int", False)
        return token.value
    # anyType (history OldValue/NewValue): take the literal as written
    if token.kind == "string":
        return token.value[0]
    if token.keyword in {"true", "false"}:
        return token.keyword == "true"
    return token.value


def _normalizer(ftype: FieldType) -> Callable[[Any], Any]:
    """How values of a type are compared: text case-insensitively, ids on 15 characters."""
    if ftype in TEXT_TYPES or ftype == FieldType.ANY:
        return lambda v: v.casefold() if isinstance(v, str) else v
    if ftype in ID_TYPES:
        return lambda v: v[:15] if isinstance(v, str) else v
    return lambda v: v


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _compile_condition(node: Condition, resolver: _Resolver) -> Callable[[Mapping[str, Any]], bool]:
    query = resolver.query
    if isinstance(node, BoolOp):
        parts = [_compile_condition(part, resolver) for part in node.parts]
        if node.op == "and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    if isinstance(node, Not):
        inner = _compile_condition(node.inner, resolver)
        return lambda row: not inner(row)
    _, ftype, get = resolver.resolve(node.field)
    norm = _normalizer(ftype)
    if isinstance(node, Like):
        if ftype not in TEXT_TYPES and ftype not in ID_TYPES and ftype != FieldType.ANY:
            raise _error("INVALID_FIELD", query.source, node.field.pos,
                         f"invalid operator on {ftype} field: LIKE")
        regex = re.compile(node.value.value[1], re.IGNORECASE | re.DOTALL)
        return lambda row: isinstance(v := get(row), str) and regex.fullmatch(v) is not None
    if isinstance(node, InList):
        wanted = {norm(_literal_for(t, ftype, node.field, query)) for t in node.values}
        if node.negate:
            return lambda row: norm(get(row)) not in wanted
        return lambda row: norm(get(row)) in wanted
    value = norm(_literal_for(node.value, ftype, node.field, query))
    compare = _OPS[node.op]
    if value is None:
        if node.op == "=":
            return lambda row: get(row) is None
        if node.op == "!=":
            return lambda row: get(row) is not None
        return lambda row: False

    def test(row: Mapping[str, Any]) -> bool:
        actual = norm(get(row))
        if actual is None:
            return node.op == "!="  # a null field is "not equal" to any value
        try:
            return compare(actual, value)
        except TypeError:
            return False

    return test


def _compile_order(
    items: Sequence[OrderItem], resolver: _Resolver
) -> Callable[[Sequence[Mapping[str, Any]]], list[Mapping[str, Any]]]:
    keys: list[tuple[OrderItem, Getter, Callable[[Any], Any]]] = []
    for item in items:
        _, ftype, get = resolver.resolve(item.field)
        keys.append((item, get, _sort_normalizer(ftype)))

    def sort(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        out = list(rows)
        if len(keys) == 1 or all(not k[0].descending and not k[0].nulls_last for k in keys):
            # the common case (ORDER BY SystemModstamp, Id): one sort with a tuple key
            if all(not k[0].descending and not k[0].nulls_last for k in keys):
                def tuple_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
                    parts = []
                    for _, get, norm in keys:
                        value = get(row)
                        parts.append((0, 0) if value is None else (1, norm(value)))
                    return tuple(parts)

                out.sort(key=tuple_key)
                return out
        for item, get, norm in reversed(keys):  # stable sorts, last key first
            null_rank = 2 if item.nulls_last != item.descending else 0

            def key(row: Mapping[str, Any], get: Getter = get, norm: Any = norm,
                    null_rank: int = null_rank) -> tuple[int, Any]:
                value = get(row)
                return (null_rank, 0) if value is None else (1, norm(value))

            out.sort(key=key, reverse=item.descending)
        return out

    return sort


def _sort_normalizer(ftype: FieldType) -> Callable[[Any], Any]:
    if ftype in TEXT_TYPES or ftype == FieldType.ANY:
        return lambda v: v.upper() if isinstance(v, str) else str(v)
    return lambda v: v
