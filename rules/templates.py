"""Message templates the admin controls: `{placeholder}` substitution, nothing more.

`{name}` is replaced by the context's value for "name" (a record field, or one of the standard
keys below); a missing placeholder becomes "". `{{` and `}}` write literal braces. There is no
attribute access, indexing, format spec or evaluation: a placeholder is just a name, and values
are inserted once, never re-read as templates.

Standard keys (see `failure_context`): name, status, url, id, owner, source, gate, enters,
failures (a "- " bullet list of the failure messages), failure_count; every record field by
its name (`{Company}`, `{Campaign ID}`). Standard keys win over a field with the same name.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from baton.core.records import Record

from .values import text

STANDARD_PLACEHOLDERS = (
    "name", "status", "url", "id", "owner", "source", "gate", "enters", "failures", "failure_count",
)
SLA_PLACEHOLDERS = ("sla", "deadline", "started", "step")  # what an escalation step adds

Segment = tuple[str, str | None]  # literal text, then a placeholder name (None at the end)


class TemplateSyntaxError(ValueError):
    """A template with unbalanced or empty braces."""


def parse_template(template: str) -> tuple[Segment, ...]:
    """Split a template into (literal, placeholder) pairs; raises TemplateSyntaxError."""
    segments: list[Segment] = []
    literal: list[str] = []
    position, end = 0, len(template)
    while position < end:
        char = template[position]
        if char == "{":
            if template.startswith("{{", position):
                literal.append("{")
                position += 2
                continue
            close = template.find("}", position + 1)
            inner = template[position + 1 : close] if close != -1 else ""
            if close == -1 or "{" in inner:
                raise TemplateSyntaxError(
                    f"expected a closing '}}' for the '{{' at character {position + 1}"
                    " (write '{{' for a literal brace)"
                )
            name = inner.strip()
            if not name:
                raise TemplateSyntaxError(
                    f"expected a placeholder name inside the '{{}}' at character {position + 1}"
                )
            segments.append(("".join(literal), name))
            literal = []
            position = close + 1
        elif char == "}":
            if template.startswith("}}", position):
                literal.append("}")
                position += 2
                continue
            raise TemplateSyntaxError(
                f"found a '}}' without its '{{' at character {position + 1}"
                " (write '}}' for a literal brace)"
            )
        else:
            literal.append(char)
            position += 1
    segments.append(("".join(literal), None))
    return tuple(segments)


@lru_cache(maxsize=512)
def _cached(template: str) -> tuple[Segment, ...]:
    return parse_template(template)


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{placeholder}`s from `context`; a missing one becomes "". Raises on broken braces."""
    out: list[str] = []
    for literal, name in _cached(template):
        out.append(literal)
        if name is not None:
            value = context.get(name)
            out.append(text(value))
    return "".join(out)


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order."""
    return [name for _, name in _cached(template) if name is not None]


def bullet_list(messages: list[str] | tuple[str, ...]) -> str:
    return "\n".join(f"- {message}" for message in messages)


def record_context(record: Record) -> dict[str, Any]:
    """A record's fields and own values, by placeholder name."""
    context: dict[str, Any] = dict(record.fields)
    context.update(
        name=record.name, status=record.status, url=record.url, id=record.id,
        owner=record.owner, source=record.source,
    )
    return context
