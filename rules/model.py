"""The typed rule objects the runtime sees: built once at load, frozen, no pydantic inside.

A `RuleSet` holds every `Gate`; a gate holds its compiled checks and what to do on failure
(`OnFail`) and once fixed (`OnPass`). `evaluate_gate` turns a gate and a record into a
`GateResult`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .tasks import TaskSpec

if TYPE_CHECKING:
    from .checks import Check
    from .business_hours import BusinessCalendar
    from .naming import NamingTemplate
    from .sla import SlaRule
    from .utm import UtmTaxonomy

DEFAULT_COMMENT = "This can't move to {enters} yet. Please fix:\n{failures}"
DEFAULT_RESOLVED_NOTE = "Fixed: {name} now meets every check for {enters}."
ENFORCE, OBSERVE = "enforce", "observe"  # a gate's `mode`: live, or shadow mode


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A named vocabulary (channels, lead sources, UTM mediums), defined once."""

    name: str
    values: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)  # value → how people call it
    description: str = ""

    def __contains__(self, value: object) -> bool:
        return value in self.values


@dataclass(frozen=True, slots=True)
class OnFail:
    """What to write back when a gate fails. Templates: see `rules.templates`."""

    comment: str | None = DEFAULT_COMMENT  # a comment / note template; None: no comment
    task: TaskSpec | None = None
    move_to: str | None = None  # bounce the record back to this status
    set: Mapping[str, str] = field(default_factory=dict)  # field → value (a template)
    # more failures than this for one owner in one cycle: one digest for the owner replaces
    # their comments and tasks (bounces and fields stay per record); None: never
    digest_above: int | None = None


@dataclass(frozen=True, slots=True)
class OnPass:
    """What to do when a record that failed this gate passes it later."""

    resolve: bool = True  # close what the earlier violation opened (its task), add `note`
    note: str | None = DEFAULT_RESOLVED_NOTE


@dataclass(frozen=True, slots=True)
class Gate:
    """The checks that run when a record of `source` enters `enters` (from one of `from_statuses`)."""

    id: str
    source: str
    enters: str
    checks: tuple[Check, ...]
    from_statuses: frozenset[str] = frozenset()  # empty: from anywhere
    on_fail: OnFail = OnFail()
    on_pass: OnPass = OnPass()
    description: str = ""
    file: str = ""  # the rule file it came from, for messages and `baton explain`
    mode: str = ENFORCE  # OBSERVE: evaluated and recorded like any gate, writes nothing

    @property
    def observed(self) -> bool:
        """Shadow mode: no write-back, no bounce, no hold on an SLA (switch to enforce to go live)."""
        return self.mode == OBSERVE

    def fires(self, to_status: str, from_status: str | None) -> bool:
        if to_status != self.enters:
            return False
        return not self.from_statuses or from_status in self.from_statuses


@dataclass(frozen=True, slots=True)
class CheckFailure:
    check_id: str
    field: str | None
    message: str  # plain words, for the team


@dataclass(frozen=True, slots=True)
class LateCheck(CheckFailure):
    """A record that could not be checked in time: the checks after `check_id` did not run."""


@dataclass(frozen=True, slots=True)
class HeldCheck(CheckFailure):
    """A lookup whose source is stale under `on_stale = "hold"` (rules.lookup): it waits."""


@dataclass(frozen=True, slots=True)
class GateResult:
    gate_id: str
    passed: bool
    failures: tuple[CheckFailure, ...]
    values_seen: dict[str, Any]  # every field value the checks read, for `baton explain`

    @property
    def messages(self) -> list[str]:
        return [failure.message for failure in self.failures]

    @property
    def held(self) -> bool:
        """Nothing failed but a cross-tool lookup whose source is stale under `on_stale =
        "hold"` (rules.lookup): the gate decides later, not now."""
        return bool(self.failures) and all(isinstance(f, HeldCheck) for f in self.failures)

    @property
    def timed_out(self) -> str | None:
        """The check after which the record ran out of time (rules.evaluate), or None."""
        return next((f.check_id for f in self.failures if isinstance(f, LateCheck)), None)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every gate and definition from a set of rule files; `version` is a short content hash."""

    version: str
    gates: tuple[Gate, ...]
    taxonomies: Mapping[str, Taxonomy] = field(default_factory=dict)
    naming_templates: Mapping[str, NamingTemplate] = field(default_factory=dict)
    utm_taxonomies: Mapping[str, UtmTaxonomy] = field(default_factory=dict)
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    slas: tuple[SlaRule, ...] = ()  # SLA timers (rules.sla)
    files: tuple[str, ...] = ()
    _by_entry: Mapping[tuple[str, str], tuple[Gate, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[Gate]] = {}
        for gate in self.gates:
            index.setdefault((gate.source, gate.enters), []).append(gate)
        frozen = {key: tuple(gates) for key, gates in index.items()}
        object.__setattr__(self, "_by_entry", MappingProxyType(frozen))

    @classmethod
    def empty(cls) -> RuleSet:
        return cls(version="empty", gates=())

    def gates_entering(
        self, source: str, to_status: str, from_status: str | None = None
    ) -> list[Gate]:
        """The gates that fire when a record of `source` moves from `from_status` to `to_status`."""
        candidates = self._by_entry.get((source, to_status), ())
        return [gate for gate in candidates if gate.fires(to_status, from_status)]

    def gate(self, gate_id: str) -> Gate:
        for gate in self.gates:
            if gate.id == gate_id:
                return gate
        raise KeyError(gate_id)

    def sources(self) -> set[str]:
        return {gate.source for gate in self.gates}
