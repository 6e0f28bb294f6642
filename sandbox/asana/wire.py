"""Wire helpers: `opt_fields` projection, offset page tokens, rate-limit cost, HTML text."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

from baton.sandbox.server import Request

from .model import ApiError


class Rendered:
    """A list whose items are rendered when read, so a page of 100 renders 100, not all."""

    def __init__(self, items: list[Any], render: Any) -> None:
        self._items, self._render = items, render

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: slice) -> list[Any]:
        return [self._render(item) for item in self._items[index]]


# --- opt_fields projection -----------------------------------------------------------------------

_ALWAYS = ("gid", "resource_type")
_COMPACT = ("gid", "resource_type", "name", "resource_subtype")


def opt_fields(request: Request) -> set[str]:
    raw = request.arg("opt_fields") or ""
    return {f.strip() for f in raw.split(",") if f.strip()}


def _tree(fields: set[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in fields:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def project_fields(value: Any, fields: set[str]) -> Any:
    """Apply `opt_fields`: only the requested fields, plus gid and resource_type at every level."""
    if not fields:
        return value
    return _project(value, _tree(fields))


def _project(value: Any, tree: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_project(v, tree) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: value[k] for k in _ALWAYS if k in value}
    for name, sub in tree.items():
        if name in value:
            out[name] = _project(value[name], sub) if sub else _compact(value[name])
    return out


def _compact(value: Any) -> Any:
    """A nested value asked for without sub-fields: objects in their compact form."""
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, dict):
        if value.get("resource_type") == "custom_field" or "gid" not in value:
            return {k: _compact(v) for k, v in value.items()}
        return {k: value[k] for k in _COMPACT if k in value}
    return value


def encode_offset(position: int) -> str:
    header = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"HS256"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps({"o": position}).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}"


def decode_offset(token: str) -> int:
    try:
        payload = token.split(".")[1]
        return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["o"])
    except (IndexError, ValueError, KeyError, TypeError):
        raise ApiError(400, "offset: Your pagination token is invalid.") from None


def request_cost(request: Request) -> int:
    """Rate-limit units of a request: each action of a batch counts (checked all at once)."""
    if request.method != "POST" or not request.path.endswith("/batch"):
        return 1
    try:
        actions = request.json()["data"]["actions"]
        return max(1, len(actions)) if isinstance(actions, list) else 1
    except (ValueError, KeyError, TypeError):
        return 1


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_html(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">").replace(
        "&amp;", "&")
