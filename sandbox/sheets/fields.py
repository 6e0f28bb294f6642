"""Field masks (`fields=sheets(properties(sheetId,title),data.rowData)`): parse and apply."""
from __future__ import annotations

import re
from typing import Any

from .model import GoogleApiError


def parse_field_mask(mask: str) -> dict[str, Any] | None:
    """`sheets(properties(sheetId,title),data.rowData)` -> nested dict; None = everything."""
    mask = mask.replace(" ", "")
    if not mask or mask == "*":
        return None
    pos = 0

    def parse_list() -> dict[str, Any]:
        nonlocal pos
        tree: dict[str, Any] = {}
        while True:
            _merge(tree, parse_path())
            if pos < len(mask) and mask[pos] == ",":
                pos += 1
                continue
            return tree

    def parse_path() -> dict[str, Any]:
        nonlocal pos
        match = re.compile(r"[A-Za-z0-9_*@]+").match(mask, pos)
        if not match:
            raise GoogleApiError(400, f"Invalid field selection {mask}")
        name = match.group(0)
        pos = match.end()
        if pos < len(mask) and mask[pos] == ".":
            pos += 1
            return {name: parse_path()}
        if pos < len(mask) and mask[pos] == "(":
            pos += 1
            sub = parse_list()
            if pos >= len(mask) or mask[pos] != ")":
                raise GoogleApiError(400, f"Invalid field selection {mask}")
            pos += 1
            return {name: sub}
        return {name: None}

    tree = parse_list()
    if pos != len(mask):
        raise GoogleApiError(400, f"Invalid field selection {mask}")
    return tree


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, sub in other.items():
        if key in into:
            if into[key] is None or sub is None:
                into[key] = None
            else:
                _merge(into[key], sub)
        else:
            into[key] = sub


def apply_field_mask(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None or "*" in tree:
        return value
    if isinstance(value, list):
        return [apply_field_mask(item, tree) for item in value]
    if isinstance(value, dict):
        return {k: apply_field_mask(value[k], sub) for k, sub in tree.items() if k in value}
    return value


def mask_mentions(tree: dict[str, Any] | None, *path: str) -> bool:
    for part in path:
        if tree is None or "*" in tree:
            return True
        if part not in tree:
            return False
        tree = tree[part]
    return True
