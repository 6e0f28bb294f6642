"""The expression check: CEL (Common Expression Language), compiled at load, sandboxed.

```toml
{ expr = "fields['Amount'] > 0 || record.status == 'Draft'", message = "Add the amount" }
```

Variables: `fields` (field name → value), `record` (id, name, status, owner, url, source) and
`now` (the evaluation time, a CEL timestamp). Only plain data reaches CEL — strings, numbers,
booleans, null, lists and maps; dates become ISO strings and anything else its text — never a
Python object or callable, so an expression cannot reach Python. A missing field is absent from
`fields` (test it with `has(fields.X)` or `'X' in fields`).

An expression must return true (pass) or false (fail). A run-time error (a missing key, a type
mismatch, a division by zero) or a non-boolean result is a failure with a message saying so,
never an exception. `message` is required: it is what the team reads.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from baton.core.records import Record

from .checks import Check, Problems

VARIABLES = ("fields", "record", "now")
# The functions the Rust CEL core provides (operators like `_==_` aside). Anything else would
# only fail at run time ("Undefined variable or function"), so it is refused at load instead.
FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
    "bytes", "timestamp", "duration", "dyn", "type", "getFullYear", "getMonth", "getDate",
    "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getHours", "getMinutes", "getSeconds",
    "getMilliseconds",
})
_OPERATOR = re.compile(r"[A-Za-z_]\w*")  # a name like this is a function; `_==_`, `@in` are not
_INT64 = 2**63
# `fields['X']`, `fields["X"]` and `fields.X`: when every use of `fields` is one of these, only the
# named fields are converted for CEL (the common case, and much cheaper on wide records).
_FIELD_USE = re.compile(r"""\bfields\s*(?:\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]|\.\s*([A-Za-z_]\w*))""")
_ANY_FIELDS = re.compile(r"\bfields\b")
RECORD_KEYS = ("id", "name", "status", "owner", "url", "source")  # the values `record` offers
_RECORD_USE = re.compile(r"\brecord\s*\.\s*([A-Za-z_]\w*)")
_ANY_RECORD = re.compile(r"\brecord\b")
# variables bound by macros (`list.exists(x, …)`, `cel.bind(x, …)`) are listed by the compiler too
_BOUND = re.compile(r"(?:\.\s*(?:all|exists|exists_one|map|filter)|\bcel\s*\.\s*bind)\s*\(\s*([A-Za-z_]\w*)\s*,")


# Bounds: the CEL package offers no cost limit and no type checker (a Program only executes),
# and its `map`/`filter` take time growing with the square of the list (a six-deep nested `map`
# ran 85 s in 1.5 GB). So expressions are bounded at load, and their inputs at evaluation.
MAX_SOURCE_CHARS = 2000  # an expression's length (its literal lists live in it)
MAX_COMPREHENSION_DEPTH = 2  # all/exists/exists_one/map/filter nested in one another
MAX_LIST_ITEMS = 1000  # items of one field value (lists and maps, nested ones counted in)
MAX_TEXT_CHARS = 100_000  # characters of one text in a field value
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_GROWING = frozenset({"map", "filter"})  # their cost is quadratic: never inside another one
_STRINGS = (r"'''[\s\S]*?'''", r'"""[\s\S]*?"""', r"'(?:[^'\\\n]|\\.)*'", r'"(?:[^"\\\n]|\\.)*"')
# a string literal (skipped), a call `.name(`, or a bracket: enough to see how macros nest
_TOKEN = re.compile(r"[rRbB]*(?:" + "|".join(_STRINGS) + r")|\.\s*([A-Za-z_]\w*)\s*\(|[()\[\]{}]")


class ExpressionError(ValueError):
    """An expression that does not compile, or uses a variable that does not exist."""


class TooLarge(ValueError):
    """A field value larger than an expression may read."""


class Expression:
    """A compiled CEL program and what it needs from a record."""

    __slots__ = ("source", "program", "variables", "field_names", "record_keys")

    def __init__(self, source: str) -> None:
        bounds = _bounds_problem(source)  # before compiling: the parser itself recurses
        if bounds is not None:
            raise ExpressionError(bounds)
        try:
            import cel  # only rule sets with expressions pay for the CEL runtime (~25 MB)

            self.program = cel.compile(source)
        except ValueError as error:
            raise ExpressionError(_first_lines(str(error))) from None
        except Exception as error:  # the compiler is native code: never let it take the load down
            raise ExpressionError(f"{type(error).__name__}: {_first_lines(str(error))}") from None
        self.source = source
        self.variables = frozenset(self.program.variables())
        unknown = sorted(self.variables - set(VARIABLES) - set(_BOUND.findall(source)))
        if unknown:
            raise ExpressionError(
                f"unknown name {', '.join(map(repr, unknown))}; expressions can use "
                f"{', '.join(VARIABLES)} (and CEL's own functions)"
            )
        unknown = sorted(name for name in self.program.functions()
                         if _OPERATOR.fullmatch(name) and name not in FUNCTIONS)
        if unknown:
            raise ExpressionError(
                f"unknown function {', '.join(map(repr, unknown))}; expressions can use "
                f"{', '.join(sorted(FUNCTIONS, key=str.lower))}"
            )
        self.field_names = _named_fields(source)
        self.record_keys = _named_record_keys(source)

    def evaluate(self, record: Record, now: datetime | None = None) -> Any:
        """The raw result; raises whatever CEL raises."""
        context: dict[str, Any] = {}
        if "fields" in self.variables:
            if self.field_names is None:
                context["fields"] = {str(k): _bounded(str(k), v) for k, v in record.fields.items()}
            else:
                values = record.fields
                context["fields"] = {
                    name: _bounded(name, values[name]) for name in self.field_names
                    if name in values
                }
        if "record" in self.variables:
            context["record"] = {key: getattr(record, key) for key in self.record_keys}
        if "now" in self.variables:
            context["now"] = now or datetime.now(timezone.utc)
        return self.program.execute(context)


def _bounds_problem(source: str) -> str | None:
    """Why the expression could run too long, or None: too long a text, comprehensions nested
    too deep, or a `map`/`filter` inside another comprehension."""
    if len(source) > MAX_SOURCE_CHARS:
        return f"an expression may have at most {MAX_SOURCE_CHARS} characters, found {len(source)}"
    stack: list[str | None] = []  # per open bracket: the macro it calls, or None
    deepest, growing = 0, None
    for token in _TOKEN.finditer(source):
        name, text = token.group(1), token.group(0)
        if name is not None:
            outer = [macro for macro in stack if macro]
            if name in _MACROS:
                deepest = max(deepest, len(outer) + 1)
                if name in _GROWING and outer and growing is None:
                    growing = (name, outer[-1])
            stack.append(name if name in _MACROS else None)
        elif text in ("(", "[", "{"):
            stack.append(None)
        elif text in (")", "]", "}") and stack:
            stack.pop()
    if deepest > MAX_COMPREHENSION_DEPTH:
        return (f"comprehensions ({', '.join(sorted(_MACROS))}) may nest at most "
                f"{MAX_COMPREHENSION_DEPTH} deep, found {deepest} (their run times multiply)")
    if growing is not None:
        return (f"{growing[0]!r} may not run inside another comprehension ({growing[1]!r}): its "
                "run time grows with the square of the list")
    return None


def _size_problem(value: Any, budget: list[int]) -> str | None:
    """Why a field value is too large for an expression, or None; `budget` counts items left."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            return f"a text of {len(value)} characters (at most {MAX_TEXT_CHARS})"
        return None
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        budget[0] -= len(value)
        if budget[0] < 0:
            return f"more than {MAX_LIST_ITEMS} items"
        for item in (value.values() if isinstance(value, Mapping) else value):
            problem = _size_problem(item, budget)
            if problem is not None:
                return problem
    return None


def _bounded(name: str, value: Any) -> Any:
    """The plain value of field `name`; raises TooLarge past the input bounds."""
    kind = type(value)
    if kind is str:
        if len(value) <= MAX_TEXT_CHARS:
            return value
    elif value is None or kind is int or kind is float or kind is bool:
        return _plain(value)
    problem = _size_problem(value, [MAX_LIST_ITEMS])
    if problem is not None:
        raise TooLarge(f"{name!r} is too large for an expression: {problem}")
    return _plain(value)


def _named_fields(source: str) -> tuple[str, ...] | None:
    """The field names used literally, or None when `fields` is used as a whole."""
    names = []
    uses = 0
    for match in _FIELD_USE.finditer(source):
        quoted = match.group(1) if match.group(1) is not None else match.group(2)
        if quoted is not None and "\\" in quoted:
            return None
        names.append(quoted if quoted is not None else match.group(3))
        uses += 1
    if uses != len(_ANY_FIELDS.findall(source)):
        return None
    return tuple(dict.fromkeys(names))


def _named_record_keys(source: str) -> tuple[str, ...]:
    """The record attributes used as `record.X`; all of them when `record` is used otherwise."""
    used = _RECORD_USE.findall(source)
    if len(used) != len(_ANY_RECORD.findall(source)) or not set(used) <= set(RECORD_KEYS):
        return RECORD_KEYS
    return tuple(dict.fromkeys(used))


def _plain(value: Any) -> Any:
    """A value CEL can hold: plain data only; never a Python object or callable."""
    if value is None or isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)


def _first_lines(message: str, limit: int = 3) -> str:
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return " ".join(line.strip() for line in lines[:limit])


def explain_error(error: Exception) -> str:
    """A short reason for a failed evaluation."""
    if isinstance(error, TooLarge):
        return str(error)
    if isinstance(error, KeyError):
        return f"no value for {error.args[0]!r} on this record" if error.args else "a missing key"
    message = _first_lines(str(error), limit=1)
    return message.split(". ")[0] if message else type(error).__name__


class ExpressionCheck(Check):
    """`expr = "..."`: a CEL expression that must be true. `field` is optional (for reports)."""

    __slots__ = ("expression",)
    kind = "expr"

    def __init__(self, *, expression: Expression, **common: Any) -> None:
        super().__init__(**common)
        self.expression = expression

    def also_reads(self) -> set[str]:
        """The fields named literally (`fields['X']`, `fields.X`); none when the expression uses
        the `fields` map as a whole (then nothing can be told)."""
        return set(self.expression.field_names or ())

    def run(self, record: Record, seen: dict[str, Any]) -> Problems:
        when = self.when
        if when is not None and not when.holds(record, seen):
            return None
        expression = self.expression
        if expression.field_names is not None:
            for name in expression.field_names:
                seen[name] = record.fields.get(name)
        try:
            result = expression.evaluate(record)
        except Exception as error:  # an expression must never take the cycle down
            return (f"Rule expression could not be evaluated: {explain_error(error)}",)
        if result is True:
            return None
        if result is False:
            return (self.custom_message(record, None),)
        return (f"Rule expression returned {result!r}, expected true or false",)
