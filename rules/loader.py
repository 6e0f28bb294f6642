"""Loading rule files: read → validate → resolve + build, collecting every problem.

1. read: each file is parsed as TOML; each top-level table goes to its reader (TABLE_READERS),
   which validates it against its spec (rules.schema) and keeps the spec. Unknown tables are
   problems.
2. build: each spec builds itself (`spec.build(ctx, …)`, rules.build), in dependency order:
   taxonomies; naming templates and UTM taxonomies (which may use taxonomies); gates (which may
   use all three, from any file); calendars; SLAs (which name a calendar and a gate). Regexes
   and CEL expressions are compiled here, so the runtime never meets an invalid one.
3. If anything was wrong, `RuleFileError` lists every problem; otherwise a new `RuleSet`.

A reload builds a whole new RuleSet and the caller swaps it in only if this succeeds.
Adding a table kind: a spec with a `build` (rules.schema), a reader here, and a build step.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .build import Build, Spec
from .errors import RuleFileError, found, key_path
from .model import ENFORCE, OBSERVE, Gate, RuleSet
from .schema import CalendarSpec, GateSpec, NamingSpec, SlaSpec, TaxonomySpec, UtmSpec
from .sla import SlaRule

_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_NAMED: dict[str, type[Spec]] = {  # [kind.<name>] tables: definitions
    "taxonomy": TaxonomySpec, "naming": NamingSpec, "utm": UtmSpec, "calendar": CalendarSpec,
}
_LISTED: dict[str, tuple[type[Spec], str]] = {  # [[kind]] tables, each with an id
    "gate": (GateSpec, "gate"), "sla": (SlaSpec, "SLA"),
}


@dataclass
class _Loading:
    """Every spec read so far (by kind), and every problem found (in `ctx`)."""

    ctx: Build = field(default_factory=Build)
    named: dict[str, dict[str, tuple[str, Any]]] = field(  # kind → name → (file, spec)
        default_factory=lambda: {kind: {} for kind in _NAMED})
    listed: dict[str, list[tuple[str, str, Any]]] = field(  # kind → [(file, where, spec)]
        default_factory=lambda: {kind: [] for kind in _LISTED})
    modes: dict[str, str] = field(default_factory=dict)  # file → its top-level `mode`


# ---------------------------------------------------------------- read
TableReader = Callable[[_Loading, str, Any], None]


def _named_reader(kind: str) -> TableReader:
    def read(loading: _Loading, file: str, value: Any) -> None:
        ctx = loading.ctx.in_file(file)
        if not isinstance(value, dict):
            ctx.problem(kind, f"expected tables like [{kind}.<name>], found {found(value)}")
            return
        known = loading.named[kind]
        for name, table in value.items():
            where = key_path("", (kind, name))
            if name in known:
                ctx.problem(where, f"{kind} {name!r} is already defined in {known[name][0]}")
                continue
            spec = ctx.validate(_NAMED[kind], table, where)
            if spec is None:
                ctx.broken.add((kind, name))
            else:
                known[name] = (file, spec)

    return read


def _listed_reader(kind: str) -> TableReader:
    def read(loading: _Loading, file: str, value: Any) -> None:
        ctx = loading.ctx.in_file(file)
        if not isinstance(value, list):
            ctx.problem(kind, f"expected [[{kind}]] tables (note the double brackets), "
                        f"found {found(value)}")
            return
        for index, table in enumerate(value, 1):
            given = table.get("id") if isinstance(table, dict) else None
            where = f"{kind}[{given}]" if isinstance(given, str) and given else f"{kind}[{index}]"
            spec = ctx.validate(_LISTED[kind][0], table, where)
            if spec is not None:
                loading.listed[kind].append((file, where, spec))
            elif isinstance(given, str):
                ctx.broken.add((kind, given))

    return read


def _read_mode(loading: _Loading, file: str, value: Any) -> None:
    """`mode = "observe"` at the top of a file: every gate in it that names no mode of its own
    runs in shadow mode (evaluated and recorded, writes nothing)."""
    if value not in (ENFORCE, OBSERVE):
        loading.ctx.in_file(file).problem("mode", f"expected \"{ENFORCE}\" or \"{OBSERVE}\", "
                                          f"found {found(value)}")
    else:
        loading.modes[file] = value


TABLE_READERS: dict[str, TableReader] = {
    **{kind: _named_reader(kind) for kind in ("taxonomy", "naming", "utm")},
    "gate": _listed_reader("gate"),
    "calendar": _named_reader("calendar"),
    "sla": _listed_reader("sla"),
}


def load_rule_set(paths: Sequence[Path]) -> RuleSet:
    """Load and build every rule file together; raises RuleFileError listing every problem.

    Definitions (taxonomies, naming templates, UTM taxonomies, calendars) may live in any file.
    """
    loading = _Loading()
    contents: list[tuple[str, bytes]] = []
    for path in paths:
        file = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            loading.ctx.in_file(file).problem("(file)", f"expected a readable rule file: "
                                              f"{error.strerror}")
            continue
        contents.append((file, data))
        _read_file(loading, file, data)
    ctx = loading.ctx
    for kind, built in (("taxonomy", ctx.taxonomies), ("naming", ctx.naming), ("utm", ctx.utm)):
        _build_named(loading, kind, built)
    loading.listed["gate"] = [
        (file, where, spec if spec.mode or file not in loading.modes
         else spec.model_copy(update={"mode": loading.modes[file]}))
        for file, where, spec in loading.listed["gate"]]
    gates: list[Gate] = _build_listed(loading, "gate")
    ctx.gates.update((gate.id, gate) for gate in gates)
    _build_named(loading, "calendar", ctx.calendars)
    slas: list[SlaRule] = _build_listed(loading, "sla")
    if ctx.problems:
        order = {str(path): index for index, path in enumerate(paths)}
        raise RuleFileError(sorted(ctx.problems, key=lambda p: order.get(p.file, len(order))))
    return RuleSet(
        version=_version(contents), gates=tuple(gates), taxonomies=ctx.taxonomies,
        naming_templates=ctx.naming, utm_taxonomies=ctx.utm, calendars=ctx.calendars,
        slas=tuple(slas), files=tuple(file for file, _ in contents),
    )


def _version(contents: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for file, data in sorted(contents):
        digest.update(Path(file).name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def _read_file(loading: _Loading, file: str, data: bytes) -> None:
    ctx = loading.ctx.in_file(file)
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        ctx.problem("(file)", "expected UTF-8 text, found other bytes")
        return
    except tomllib.TOMLDecodeError as error:
        position = _TOML_LINE.search(str(error))
        where = f"line {position.group(1)}" if position else "(file)"
        reason = _TOML_LINE.sub("", str(error)).strip()
        ctx.problem(where, f"expected valid TOML: {reason}")
        return
    except RecursionError:
        ctx.problem("(file)", "expected TOML of reasonable depth, found arrays or tables "
                              "nested thousands deep")
        return
    for name, value in document.items():
        reader = _read_mode if name == "mode" else TABLE_READERS.get(name)
        if reader is not None:
            reader(loading, file, value)
        else:
            ctx.problem(key_path("", (name,)),
                        f"unknown table; expected one of: {', '.join(TABLE_READERS)}")


# ---------------------------------------------------------------- build
def _build_named(loading: _Loading, kind: str, built: dict[str, Any]) -> None:
    """Build every [kind.<name>] definition into `built`; a broken one is remembered so the
    references to it are not reported again."""
    for name, (file, spec) in loading.named[kind].items():
        ctx = loading.ctx.in_file(file)
        before = ctx.count()
        value = spec.build(ctx, name)
        if value is None or ctx.count() != before:
            ctx.broken.add((kind, name))
        else:
            built[name] = value


def _build_listed(loading: _Loading, kind: str) -> list[Any]:
    """Build every [[kind]] table whose id is not already used."""
    out: list[Any] = []
    seen: dict[str, str] = {}
    what = _LISTED[kind][1]
    for file, where, spec in loading.listed[kind]:
        ctx = loading.ctx.in_file(file)
        if spec.id in seen:
            ctx.problem(f"{where}.id", f"expected a unique {what} id, found {spec.id!r} "
                        f"already used in {seen[spec.id]}")
            continue
        seen[spec.id] = file
        value = spec.build(ctx, where)
        if value is not None:
            out.append(value)
    return out
