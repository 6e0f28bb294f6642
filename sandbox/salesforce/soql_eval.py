"""The SOQL evaluator: binds a parsed query to a catalog (INVALID_TYPE / INVALID_FIELD), then
filters, sorts and renders rows. Text comparisons and LIKE are case-insensitive, ids compare on
their first 15 characters, nulls sort first unless NULLS LAST.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .soql_lexer import SoqlError, Token, error_at, format_datetime
from .soql_parse import BoolOp, Condition, FieldRef, InList, Like, Not, OrderItem, Query, parse
from .soql_schema import ID_TYPES, TEXT_TYPES, Catalog, FieldType, ObjectSchema


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
        raise error_at("INVALID_TYPE", query.source, query.sobject_pos,
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
        return error_at("INVALID_FIELD", self.query.source, ref.pos, text)

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
        return error_at("INVALID_FIELD", query.source, token.pos,
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
            raise error_at("INVALID_FIELD", query.source, node.field.pos,
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
