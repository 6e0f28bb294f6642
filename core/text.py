"""Text Baton writes into a team's tools: invisible and direction-changing characters shown.

A field value can carry a right-to-left override (U+202E) or zero-width characters that make a
message say something other than what it looks like ("Trojan Source"). Every comment, task and
note Baton writes shows them as visible escapes (`<U+202E>`) instead.
"""
from __future__ import annotations

import re
import unicodedata

# Bidi embeddings, overrides and isolates, directional marks, zero-width characters, the BOM.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def visible(text: str) -> str:
    """`text` with every invisible or direction-changing character written as `<U+XXXX>`;
    other control characters (not newline or tab) likewise."""
    text = _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        text = "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) == "Cc" and c not in "\n\t"
                       else c for c in text)
    return text
