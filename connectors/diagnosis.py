"""What `baton doctor` asks of one source, and what each tool's probe answers: read-only checks.

`Needs` is what the config and the rule files require of a source (fields, statuses, owners,
write-back kinds, template placeholders), each with who requires it, so a ✗ can say where to fix
it. Each tool's `doctor.py` (connectors/<tool>/doctor.py) answers with `Finding`s; it makes
only read calls (describe, metadata, SOQL, GETs): the doctor writes nothing to any tool.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from baton.core.errors import AuthError, ConfigError, SourceError, TransientError

Who = tuple[str, ...]  # where a need comes from: "gate mql-entry", "config.toml source ..."


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str  # "field 'Title' exists on Lead"
    fix: str = ""  # what to do about a ✗, in the admin's words


@dataclass(frozen=True)
class Needs:
    source_id: str
    fields: Mapping[str, Who] = field(default_factory=dict)  # record fields read
    statuses: Mapping[str, Who] = field(default_factory=dict)  # status values named
    owners: Mapping[str, Who] = field(default_factory=dict)  # "queue:X" / "user:Y"
    comments: Who = ()  # who writes comments (Chatter posts, stories, cell notes)
    tasks: Who = ()  # who opens tasks
    placeholders: Mapping[str, Who] = field(default_factory=dict)  # template names, non-standard
    standard: tuple[str, ...] = ()  # the standard placeholders (for "did you mean")


def ok(what: str) -> Finding:
    return Finding(True, what)


def bad(what: str, fix: str) -> Finding:
    return Finding(False, what, fix)


def where(who: Who) -> str:
    return ", ".join(who[:3]) + (f" and {len(who) - 3} more" if len(who) > 3 else "")


def suggestion(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'Title'?)' for a near miss, else ''."""
    pool = list(known)
    by_lower = {k.lower(): k for k in pool}
    if name.lower() in by_lower:
        return f" (did you mean {by_lower[name.lower()]!r}? names are case-sensitive)"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def template_findings(needs: Needs, available: Iterable[str], what: str) -> list[Finding]:
    """Every template placeholder resolves to a field the source's records carry."""
    known = set(available)
    missing = {name: who for name, who in needs.placeholders.items() if name not in known}
    if not needs.placeholders:
        return []
    if not missing:
        return [ok(f"every template placeholder resolves ({', '.join(sorted(needs.placeholders))})")]
    return [bad(f"template placeholder {{{name}}} in {where(who)} is not a field of {what}"
                + suggestion(name, known | set(needs.standard)),
                f"correct the placeholder, or add the field to {what}; an unknown "
                "placeholder is written as an empty text")
            for name, who in sorted(missing.items())]


def failure(tool: str, error: Exception) -> Finding:
    """A probe that could not go on: what failed and what to look at."""
    if isinstance(error, AuthError):
        return bad(f"{tool}: authentication failed: {error}",
                   f"check the {tool} credentials (see docs/{tool}.md) and that the account "
                   "is active")
    if isinstance(error, ConfigError):
        return bad(f"{tool}: {error}", "fix the configuration or the secret named")
    if isinstance(error, TransientError):
        return bad(f"{tool}: the API could not be reached: {error}",
                   "check the endpoint URL, the network and the proxy, then run doctor again")
    if isinstance(error, SourceError):
        return bad(f"{tool}: {error}", "check the id in config.toml and the account's access")
    raise error
