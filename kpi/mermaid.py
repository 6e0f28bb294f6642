"""The handoff map (the article's step 1) as a Mermaid flowchart.

Statuses are nodes in workflow order, one subgraph per source; a gate labels the edges into the
status it guards with the artifacts it requires; a bounce (`move_to`) is a dashed edge back.
Independent of the rules package: callers pass plain `GateEdge` values.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GateEdge:
    gate_id: str
    source: str
    enters: str
    from_statuses: tuple[str, ...] = ()  # empty: any; drawn from the previous status
    checks: tuple[str, ...] = ()  # what the gate requires, in the team's words
    move_to: str | None = None  # the bounce target on failure


def _text(value: str) -> str:
    """A label safe inside Mermaid double quotes (entity codes, no raw HTML from users)."""
    return (value.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("\n", " "))


def handoff_map(workflows: Mapping[str, Sequence[str]],
                gates: Iterable[GateEdge | tuple[str, str, str, Sequence[str], Sequence[str], str | None]],
                direction: str = "LR") -> str:
    """A Mermaid flowchart; gates are `GateEdge`s or tuples in the same field order."""
    edges = [g if isinstance(g, GateEdge) else
             GateEdge(g[0], g[1], g[2], tuple(g[3]), tuple(g[4]), g[5]) for g in gates]
    lines = [f"flowchart {direction}"]
    node: dict[tuple[str, str], str] = {}
    for s, (source, statuses) in enumerate(workflows.items()):
        lines.append(f'  subgraph s{s}["{_text(source)}"]')
        lines.append(f"    direction {direction}")
        for i, status in enumerate(statuses):
            node[(source, status)] = f"s{s}_{i}"
            lines.append(f'    s{s}_{i}["{_text(status)}"]')
        lines.append("  end")

    labels: dict[tuple[str, str], list[str]] = {}
    bounces: list[tuple[str, str, str]] = []
    for gate in edges:
        target = node.get((gate.source, gate.enters))
        if target is None:
            lines.append(f"  %% gate {_text(gate.gate_id)}: status not in the workflow of "
                         f"{_text(gate.source)}")
            continue
        statuses = list(workflows[gate.source])
        froms = list(gate.from_statuses) or statuses[max(statuses.index(gate.enters) - 1, 0):
                                                     statuses.index(gate.enters)]
        label = "<b>" + _text(gate.gate_id) + "</b>" + "".join(
            "<br/>• " + _text(check) for check in gate.checks)
        starts = [node[(gate.source, o)] for o in froms if (gate.source, o) in node]
        if not starts:  # the first status, or origins outside the workflow: an entry node
            starts = [f"{target}_in"]
            if f'  {target}_in(("entry"))' not in lines:
                lines.append(f'  {target}_in(("entry"))')
        for start in starts:
            labels.setdefault((start, target), []).append(label)
        if gate.move_to and (gate.source, gate.move_to) in node:
            bounces.append((target, node[(gate.source, gate.move_to)], _text(gate.gate_id)))

    for source, statuses in workflows.items():
        for a, b in zip(statuses, statuses[1:], strict=False):
            pair = (node[(source, a)], node[(source, b)])
            if pair not in labels:
                lines.append(f"  {pair[0]} --> {pair[1]}")
    for (start, target), texts in labels.items():
        lines.append(f'  {start} -->|"{"<br/>".join(texts)}"| {target}')
    for start, target, gate_id in bounces:
        lines.append(f'  {start} -.->|"bounce: {gate_id}"| {target}')
    return "\n".join(lines) + "\n"
