"""Text Baton writes into a team's tools: invisible and direction-changing characters shown.

A field value can carry a right-to-left override (U+202E) or zero-width characters that make a
message say something other than what it looks like ("Trojan Source"). Every comment, task and
note Baton writes shows them as visible escapes (`<U+202E>`) instead.
"""
from __future__ import annotations

import re

# Bidi embeddings, overrides and isolates, directional marks, zero-width characters, the BOM,
# and the C0/C1 control characters except newline and tab.
_INVISIBLE = re.compile(
    "[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`text` with every invisible, direction-changing or control character (not newline or
    tab) written as `<U+XXXX>`."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
