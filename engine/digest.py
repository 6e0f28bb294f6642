"""Digests: a bulk of failures of one gate for one owner in one cycle, said once.

When more than `on_fail.digest_above` records of one owner fail a gate in the same cycle (a bulk
import), their comments and tasks are replaced by ONE digest for the owner, listing the records
with links; bounces and field writes still happen record by record. A repeat failure of a
record whose earlier task or comment is still open is not counted: it updates that item.

Exactly once, like every write-back: the digest's ledger key derives from the set of
violations it covers (a replay of the cycle plans the same key), and its marker lets a repair
find it after a crash. Each covered record gets a DIGEST_ITEM ledger row answering the digest:
nothing is sent for it, it records which digest told of the record's violation.

Resolved record by record: fixing one record resolves that record's violation only (nothing is
written for it; the digest does not list it as fixed). The digest task is closed when the last
violation it covers is resolved (or superseded by a newer failure, which speaks for itself).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from baton.core.actions import Action, ActionKind, Capabilities
from baton.core.keys import stable_key
from baton.core.records import Record
from baton.core.text import visible
from baton.engine.planner import ledger_ref
from baton.rules import Gate, GateResult

# what a digest replaces; the rest (bounces, field writes) stays per record
MESSAGES = frozenset({ActionKind.COMMENT, ActionKind.TASK})
# a repeat failure says it on what is still open (no new item): it stays out of digests, so that
# its open task is still closed when the record passes
UPDATES = frozenset({ActionKind.UPDATE_COMMENT, ActionKind.UPDATE_TASK})
TEXT_MAX = 28_000  # characters of a digest's text; the records past it are counted


@dataclass(frozen=True, slots=True)
class Failed:
    """One failed entry of this cycle and the actions planned for it."""

    record: Record
    gate: Gate
    result: GateResult
    transition_key: str
    actions: Sequence[Action]


def with_digests(failed: Sequence[Failed], capabilities: Capabilities) -> list[tuple[Action, str]]:
    """Every failure's actions (with its transition key), a bulk's messages replaced by one
    digest per (gate, owner) and one DIGEST_ITEM per record it covers."""
    groups: dict[tuple[str, str], list[Failed]] = {}
    for f in failed:
        limit = f.gate.on_fail.digest_above
        if limit is not None and f.record.owner and ActionKind.DIGEST in capabilities.writes \
                and not any(a.kind in UPDATES for a in f.actions):
            groups.setdefault((f.gate.id, f.record.owner), []).append(f)
    bulk = {id(f) for group in groups.values()
            if len(group) > (group[0].gate.on_fail.digest_above or 0) for f in group}
    out: list[tuple[Action, str]] = []
    for f in failed:
        kept = [a for a in f.actions if id(f) not in bulk or a.kind not in MESSAGES]
        out += [(a, f.transition_key) for a in kept]
    for group in groups.values():
        if id(group[0]) in bulk:
            out += _digest(group)
    return out


def _digest(group: Sequence[Failed]) -> list[tuple[Action, str]]:
    first = group[0]
    gate, owner, source = first.gate, first.record.owner or "", first.record.source
    covered = sorted(f"{f.record.id}\x1f{f.transition_key}" for f in group)
    key = stable_key(source, gate.id, owner, "digest", *covered)
    digest = Action(key=key, kind=ActionKind.DIGEST, source=source, record_id=owner,
                    gate_id=gate.id, subject=visible(f"{len(group)} records failed {gate.id}"),
                    text=_text(group), record_owner=owner)
    items = [Action(key=stable_key(source, f.record.id, gate.id, f.transition_key, "digest_item"),
                    kind=ActionKind.DIGEST_ITEM, source=source, record_id=f.record.id,
                    gate_id=gate.id, target=ledger_ref(key), record_owner=owner)
             for f in group]
    # the digest's own ledger row is keyed to itself: it belongs to no single record's entry
    return [(digest, key), *((item, f.transition_key) for item, f in zip(items, group, strict=True))]


def _text(group: Sequence[Failed]) -> str:
    """The records grouped by what is wrong with them, each with its link; within `TEXT_MAX`
    characters (a Salesforce Task description holds 32,000): the rest are counted."""
    gate = group[0].gate
    lines = [f"{len(group)} records failed the gate {gate.id} (entering {gate.enters}) in one "
             "poll. Each is resolved on its own once it passes; this task closes with the last."]
    by_problem: dict[str, list[Failed]] = {}
    for f in group:
        problems = "; ".join(dict.fromkeys(x.message for x in f.result.failures))
        by_problem.setdefault(problems, []).append(f)
    size, left = sum(map(len, lines)), len(group)
    for problems, failed in sorted(by_problem.items(), key=lambda item: -len(item[1])):
        lines += ["", visible(f"{problems} ({len(failed)}):")]
        for f in sorted(failed, key=lambda f: (f.record.name or "", f.record.id)):
            line = visible(f"- {f.record.name or f.record.id}"
                           + (f" {f.record.url}" if f.record.url else ""))
            if size + len(line) > TEXT_MAX:
                lines += ["", f"… and {left} more (baton explain RECORD_ID lists each)"]
                return "\n".join(lines)
            lines.append(line)
            size, left = size + len(line) + 1, left - 1
    return "\n".join(lines)


def digests_of(written: Iterable[tuple[str, str, str]]) -> list[str]:
    """The digests (remote ids) an open violation's write-backs belong to."""
    return [remote for _, kind, remote in written
            if kind == ActionKind.DIGEST_ITEM.value and remote and not remote.startswith("ledger:")]


def closings(resolving: Mapping[str, tuple[str, str, str, str]],
             still_open: Mapping[str, set[tuple[str, str]]],
             resolved_now: set[tuple[str, str]]) -> list[tuple[Action, str]]:
    """A CLOSE_TASK for each digest whose last open violation this cycle resolves.
    `resolving`: digest -> (source, record, gate, transition key) of one resolution of it;
    `still_open`: digest -> its violations the store still holds open (record, gate)."""
    actions = []
    for digest, (source, record_id, gate_id, transition_key) in resolving.items():
        if still_open.get(digest, set()) - resolved_now:
            continue
        actions.append((Action(key=stable_key(source, "digest-close", digest),
                               kind=ActionKind.CLOSE_TASK, source=source, record_id=record_id,
                               gate_id=gate_id, target=digest), transition_key))
    return actions
