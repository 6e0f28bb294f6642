"""Admin regular expressions on RE2: matching takes time linear in the input, whatever the pattern.

Python's `re` backtracks without limit and holds the GIL (`(a+)+$` against forty a's and a `!`
runs for minutes), so every pattern an admin writes (pattern checks, UTM parameters, naming
parts and the templates they make) is compiled here, by RE2. RE2 has no backreferences and no
lookaround; a pattern using them is refused at load with a message naming the feature.

`compile_regex(pattern)` returns a `Regex` whose `fullmatch(text)` gives a small `Match`
(`group`, `groupdict`) or None; `re.escape`-style quoting is `escape`.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

sre_parse: Any = importlib.import_module("re._parser")  # Python's own regex parser (3.11+)

import re2
from re2 import _re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # problems are reported to the admin, not logged by RE2
_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_SPAN = (-1, -1)
# what RE2 refuses, in the words an admin knows
_FEATURES = (
    (re.compile(r"\\[1-9]"), "a backreference (\\1 …)"),
    (re.compile(r"\(\?P="), "a named backreference (?P=…)"),
    (re.compile(r"\(\?="), "a lookahead (?=…)"),
    (re.compile(r"\(\?!"), "a negative lookahead (?!…)"),
    (re.compile(r"\(\?<="), "a lookbehind (?<=…)"),
    (re.compile(r"\(\?<!"), "a negative lookbehind (?<!…)"),
    (re.compile(r"\(\?>"), "an atomic group (?>…)"),
    (re.compile(r"\(\?\("), "a conditional (?(…)…)"),
    (re.compile(r"[+*?}][+]"), "a possessive quantifier (a++)"),
    (re.compile(r"\\Z"), "\\Z (leave it out: a pattern matches the whole value anyway)"),
)


class RegexError(ValueError):
    """Not a regular expression at all: `msg` and `pos` as Python's re tells them."""

    def __init__(self, msg: str, pos: int | None) -> None:
        super().__init__(f"{msg} at position {pos}")
        self.msg, self.pos = msg, pos


class UnsupportedRegex(ValueError):
    """A valid pattern that needs backtracking (the message names the feature)."""


def escape(text: str) -> str:
    """`text` as a literal in an RE2 pattern."""
    return str(re2.escape(text))


def unsupported(pattern: str, error: UnsupportedRegex) -> str:
    """The problem message for a pattern RE2 cannot run."""
    return (f"expected a regular expression without backreferences or lookaround, found "
            f"{pattern!r}, which uses a feature the linear-time engine cannot run: {error}")


def compile_regex(pattern: str, *, dotall: bool = False) -> Regex:
    """An RE2 regex; raises RegexError (invalid) or UnsupportedRegex (needs backtracking)."""
    source = f"(?s){pattern}" if dotall else pattern
    compiled = _re2.RE2(source.encode("utf-8"), _OPTIONS)
    if compiled.ok():
        return Regex(pattern, compiled, _linear_in_python(source))
    try:
        re.compile(pattern)
    except re.error as error:
        raise RegexError(error.msg, error.pos) from None
    except (OverflowError, RecursionError, ValueError) as error:
        raise RegexError(str(error), None) from None
    raise UnsupportedRegex(_feature(pattern, compiled.error()))


def _feature(pattern: str, reason: Any) -> str:
    for token, name in _FEATURES:
        if token.search(pattern):
            return name
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    if "repetition size" in text:
        return f"a repetition count over 1000 ({text})"
    return text


_ONE_CHAR = {sre_parse.LITERAL, sre_parse.NOT_LITERAL, sre_parse.IN, sre_parse.ANY}
_REPEATS = {sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT}


def _linear_in_python(pattern: str) -> re.Pattern[str] | None:
    r"""Python's own compiled pattern when backtracking provably stays linear, else None.

    Conservative: one-character atoms, anchors and groups, repeated only as single characters,
    with at most one variable-count repeat and no alternation (`CMP-\d{4}`, `[1-9]\d*`,
    `CMP-(?P<n>\d{4})`). A full match then tries one start, and the one repeat gives back at
    most one character per step against a fixed-length rest: O(n · pattern). Such patterns are
    common and ~5x cheaper per call in Python's engine than through the RE2 binding; everything
    else runs on RE2. Compiled with re.ASCII, so `\d`, `\w`, `\s` mean what they mean in RE2."""
    try:
        tree = sre_parse.parse(pattern, re.ASCII)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None
    variable = 0

    def fits(items: Any) -> bool:
        nonlocal variable
        for op, arg in items:
            if op in _ONE_CHAR or op is sre_parse.AT:
                continue
            if op is sre_parse.SUBPATTERN:
                if not fits(arg[-1]):
                    return False
            elif op in _REPEATS:
                low, high, body = arg
                if len(body) != 1 or body[0][0] not in _ONE_CHAR:
                    return False
                if low != high:
                    variable += 1
                    if variable > 1:
                        return False
            else:
                return False
        return True

    return re.compile(pattern, re.ASCII) if fits(tree) else None


class Regex:
    """A compiled pattern, matched against whole values in linear time."""

    __slots__ = ("pattern", "groupindex", "groups", "fullmatch", "_match", "_wrapped")

    def __init__(self, pattern: str, compiled: Any, python: re.Pattern[str] | None = None) -> None:
        self.pattern = pattern
        self._match = compiled.Match
        self.groups: int = compiled.NumberOfCapturingGroups()
        self.groupindex: dict[str, int] = {
            (name.decode() if isinstance(name, bytes) else name): index
            for name, index in compiled.NamedCapturingGroups()
        }
        self._wrapped: Any = None  # the re2 module's own object, for non-ASCII text
        # `fullmatch(text)` → a match (`group`, `groupdict`, `re.groups`) or None
        self.fullmatch: Callable[[str], Any] = (
            python.fullmatch if python is not None else self._re2_fullmatch)

    def _re2_fullmatch(self, text: str) -> Match | None:
        if text.isascii():  # byte offsets are character offsets: the fast path
            data = text.encode("ascii")
            spans = self._match(_BOTH, data, 0, len(data))
            return None if spans[0] == _NO_SPAN else Match(self, text, spans)
        if self._wrapped is None:
            self._wrapped = re2.compile(self.pattern, _OPTIONS)
        found = self._wrapped.fullmatch(text)
        if found is None:
            return None
        return Match(self, text, [found.span(index) for index in range(self.groups + 1)])

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r})"


class Match:
    """What matched, by group number or name (None for a group that did not take part)."""

    __slots__ = ("re", "_text", "_spans")

    def __init__(self, regex: Regex, text: str, spans: Any) -> None:
        self.re = regex
        self._text = text
        self._spans = spans

    def group(self, key: int | str = 0) -> str | None:
        start, end = self._spans[key if isinstance(key, int) else self.re.groupindex[key]]
        return None if start < 0 else self._text[start:end]

    def groupdict(self) -> dict[str, str | None]:
        return {name: self.group(index) for name, index in self.re.groupindex.items()}
