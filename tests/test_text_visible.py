"""Invisible and direction-changing characters never reach a team's tools unseen."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from baton.core.text import visible


def test_bidi_override_and_zero_width_are_shown() -> None:
    assert visible("invoice\u202eexe.pdf") == "invoice<U+202E>exe.pdf"
    assert visible("CMP\u200b-1104") == "CMP<U+200B>-1104"
    assert visible("a\ufeffb\u2066c\u2069") == "a<U+FEFF>b<U+2066>c<U+2069>"
    assert visible("bell\x07") == "bell<U+0007>"


def test_ordinary_text_is_untouched() -> None:
    text = "Fehlt: Kampagnen-ID — «Télécharger» 日本語\n\tnext line"
    assert visible(text) == text


@given(st.text())
def test_nothing_invisible_survives(text: str) -> None:
    shown = visible(text)
    assert not any(c in shown for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200e\u200f\ufeff")
    assert visible(shown) == shown  # idempotent: an escape is plain text
