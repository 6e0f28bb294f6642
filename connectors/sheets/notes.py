"""The Baton note block format in a cell note: a person's own text, then one block per action.

    a person's own note text (kept verbatim)

    ⚑ Baton · utm
    UTM check failed: …
    [baton:<key>]

A block is found only by the idempotency marker of a key the caller names (the action being
written, or the COMMENT a REMOVE_NOTE resolves: keys the ledger knows). It runs from the
nearest `⚑ Baton` line above that marker (with no other marker between) down to the marker.
Nothing else in a note is ever parsed: a person's text, a pasted look-alike block with a made-up
or foreign marker, and other actions' blocks are kept verbatim, in place.
"""
from __future__ import annotations

import re

from baton.core.actions import Action
from baton.core.keys import IDEMPOTENCY_TAG, idempotency_marker

BLOCK_START = "⚑ Baton"
_ANY_MARKER = re.compile(r"^\[" + re.escape(IDEMPOTENCY_TAG) + r"[^\]]+\]$")


def find_block(lines: list[str], key: str) -> tuple[int, int] | None:
    """(first, last) line index of the block of `key`, or None when the note has none."""
    marker = idempotency_marker(key)
    for end, line in enumerate(lines):
        if line.strip() != marker:
            continue
        start = end
        for index in range(end - 1, -1, -1):
            text = lines[index].strip()
            if _ANY_MARKER.match(text):
                break  # the end of another block: ours has no header
            if lines[index].startswith(BLOCK_START):
                start = index
                break
        return start, end
    return None


def block_lines(action: Action) -> list[str]:
    """The block `action` writes: a header naming its gate, its text, its marker last."""
    marker = idempotency_marker(action.key)
    text = action.text.replace(marker, "").strip()
    lines = [f"{BLOCK_START} · {action.gate_id}" if action.gate_id else BLOCK_START]
    lines += [line for line in text.splitlines() if not _ANY_MARKER.match(line.strip())]
    return [*lines, marker]


def upsert_block(note: str, action: Action) -> str:
    """`note` with the block of `action` written: replaced in place, else appended."""
    lines = note.splitlines()
    block = block_lines(action)
    span = find_block(lines, action.key)
    if span is not None:
        start, end = span
        return "\n".join([*lines[:start], *block, *lines[end + 1:]])
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join([*lines, "", *block] if lines else block)


def remove_block(note: str, key: str) -> str:
    """`note` without the block of the action `key` (and the blank line that set it apart);
    everything else kept verbatim."""
    lines = note.splitlines()
    span = find_block(lines, key)
    if span is None:
        return note
    start, end = span
    if start > 0 and not lines[start - 1].strip():
        start -= 1  # the separator above the block
    elif end + 1 < len(lines) and not lines[end + 1].strip():
        end += 1  # a block on top: the separator below it
    kept = [*lines[:start], *lines[end + 1:]]
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)
