"""The connector contract: one suite every connector passes (issue #10 item 9).

Each case runs a real connector, through its real SDK, against its sandbox emulator over HTTPS,
with a real SQLite store: the connector is built by the composition root (`open_runtime`) and
reached only through the public protocol (`fetch_changes`, `write_back` by way of the engine's
ledger, `find_written`, `api_calls`) and the runner. What each tool differs in (routes, cursor
format, how a record is moved, where a marker lands) lives in tests/contract_helpers.py.

1. the baseline writes nothing;
2. an idle poll costs one call (the connector's count and the emulator's agree);
3. the cursor never moves back;
4. a repeated write-back is a no-op;
5. a 429 then a 200 succeeds, after one retry that waited Retry-After;
6. an uncertain write (it lands, its answer is lost) is found by its marker and not repeated.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from baton.app.runtime import Runtime, open_runtime
from baton.connectors.retry import RetryPolicy
from baton.core.actions import Action, ActionKind
from baton.core.config import Config, Secrets
from baton.core.keys import idempotency_marker
from baton.engine.cycle import CycleReport
from baton.engine.runner import Runner
from baton.sandbox.environment import Sandbox
from baton.store import CycleWrite, LedgerRow
from tests.contract_helpers import CASES, RULES, ToolCase, emulator_of

RETRY_AFTER = 3  # seconds; a value no backoff would pick by itself


@dataclass
class Rig:
    """One tool's sandbox, a Baton runtime on it and the one source under test."""

    case: ToolCase
    box: Sandbox
    configured: Config
    secrets: Secrets
    record: str  # the record cases 4 and 6 move into a gate it fails
    sleeps: list[float] = field(default_factory=list)  # what the retry policy waited
    runtimes: list[Runtime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """A fresh process on the same state file (new SDK clients, same ledger)."""
        runtime = open_runtime(self.configured, self.secrets,
                               retry=RetryPolicy(attempts=3, sleep=self.sleeps.append))
        self.runtimes.append(runtime)
        self.runner: Runner = runtime.runner(clock=self.box.clock.now)

    @property
    def runtime(self) -> Runtime:
        return self.runtimes[-1]

    @property
    def connector(self) -> Any:
        return self.runtime.connectors[self.case.source_id]

    @property
    def emulator(self) -> Any:
        return emulator_of(self.box, self.case.tool)

    def cycle(self) -> CycleReport:
        report = self.runner.run_source(self.case.source_id)
        assert report is not None, self.runner.health[self.case.source_id].last_error
        self.box.clock.advance(30)
        return report

    def baseline(self) -> CycleReport:
        report = self.cycle()
        assert report.baseline
        return report

    def cursor(self) -> str | None:
        return self.runtime.store.source_state(self.case.source_id).cursor

    def calls(self) -> int:
        return sum(self.connector.api_calls().values())

    def violation_entry(self) -> LedgerRow:
        """The one ledger row of the comment / task the failed gate planned for the record."""
        [entry] = [e for e in self.runtime.store.ledger_entries(self.record)
                   if e.kind in (ActionKind.COMMENT.value, ActionKind.TASK.value)]
        return entry

    def pending(self, key: str) -> Action:
        [action] = [e.action for e in self.runtime.store.pending_actions(self.case.source_id)
                    if e.action.key == key]
        return action

    def marked(self, key: str) -> list[str]:
        return self.case.marked(self.box, self.record, idempotency_marker(key))


@pytest.fixture(params=sorted(CASES))
def rig(request, make_sandbox, demo_config, tmp_path):
    case = CASES[request.param]
    box = make_sandbox(case.tool)
    record = case.prepare(box)
    config = demo_config.model_copy(update={
        "baton": demo_config.baton.model_copy(update={"rules": RULES}),
        # budgets out of the way: the Asana one sleeps for real, the Sheets one through `sleeps`
        "asana": demo_config.asana.model_copy(update={"requests_per_minute": 1500}),
        "sheets": demo_config.sheets.model_copy(update={"requests_per_minute": 600}),
    })
    configured, secrets = box.configure(config, tmp_path / "state.db")
    made = Rig(case, box, configured, secrets, record)
    yield made
    for runtime in made.runtimes:
        runtime.close()


# 1 ---------------------------------------------------------------------------------------------

def test_the_baseline_writes_nothing(rig):
    report = rig.baseline()
    assert report.records_seen > 0
    assert rig.emulator.total_calls() > 0  # it did read the tool
    assert rig.case.writes(rig.box) == 0, dict(rig.emulator.calls)
    assert rig.runtime.store.count("ledger") == 0
    assert rig.cursor() is not None


# 2 ---------------------------------------------------------------------------------------------

def test_an_idle_poll_costs_one_call(rig):
    rig.baseline()
    before = Counter(rig.connector.api_calls())
    rig.box.reset_calls()
    batch = rig.connector.fetch_changes(rig.cursor(), rig.box.clock.now())
    spent = Counter(rig.connector.api_calls()) - before
    assert batch.complete and batch.cursor is not None
    assert sum(spent.values()) == 1 and batch.api_calls == 1, spent
    assert dict(rig.emulator.calls) == {rig.case.idle_route: 1}

    # the same through the engine: an idle cycle is one call and writes nothing
    rig.box.clock.advance(30)
    rig.box.reset_calls()
    report = rig.cycle()
    assert (report.transitions, report.written) == (0, 0)
    assert rig.box.calls() == {rig.case.tool: 1}


# 3 ---------------------------------------------------------------------------------------------

def test_the_cursor_never_moves_back(rig):
    rig.baseline()
    key = rig.case.cursor_key
    cursors = [rig.cursor()]
    for n in range(4):
        changed = rig.case.touch(rig.box, n) if n % 2 == 0 else None  # a change, then idle
        rig.box.clock.advance(30)
        batch = rig.connector.fetch_changes(cursors[-1], rig.box.clock.now())
        assert batch.complete and batch.cursor is not None
        if changed is not None:
            assert changed in [r.id for r in batch.records]
        assert key(batch.cursor) >= key(cursors[-1]), (cursors[-1], batch.cursor)
        cursors.append(batch.cursor)
    assert key(cursors[-1]) > key(cursors[0])  # the changes did move it forward

    # A re-poll from an older cursor (a crash before the commit) never answers an older one.
    for old in cursors[:2]:
        rig.box.clock.advance(30)
        again = rig.connector.fetch_changes(old, rig.box.clock.now())
        assert again.cursor is not None and key(again.cursor) >= key(old), (old, again.cursor)

    # and the cursor the engine stores moves forward only
    stored = rig.cursor()
    rig.case.touch(rig.box, 9)
    rig.cycle()
    assert key(rig.cursor()) >= key(stored)


# 4 ---------------------------------------------------------------------------------------------

def test_a_repeated_write_back_is_a_no_op(rig):
    rig.baseline()
    rig.case.violate(rig.box, rig.record)
    rig.box.clock.advance(30)
    assert rig.cycle().written >= 1
    entry = rig.violation_entry()
    assert entry.state == "done"
    [remote] = rig.marked(entry.key)
    writes = rig.case.writes(rig.box)
    assert writes > 0

    rig.cycle()  # the cycle again
    # The same ledger key submitted again, as a replayed cycle plans it (the text may differ:
    # the key alone decides).
    again = Action(entry.key, ActionKind(entry.kind), entry.source, entry.record_id, entry.gate_id,
                   text="planned again")
    rig.runtime.store.commit_cycle(CycleWrite(
        rig.case.source_id, rig.cursor(), advance_cursor=False,
        actions=[(again, entry.transition_key)]), rig.box.clock.now())
    assert rig.runtime.store.pending_actions(rig.case.source_id) == []
    rig.cycle()
    rig.restart()  # and a restart on the same ledger
    rig.cycle()
    rig.cycle()

    assert rig.marked(entry.key) == [remote]
    assert rig.case.writes(rig.box) == writes
    same_key = [e for e in rig.runtime.store.ledger_entries() if e.key == entry.key]
    assert [(e.state, e.attempts) for e in same_key] == [("done", 1)]


# 5 ---------------------------------------------------------------------------------------------

def test_a_429_then_a_200_succeeds_after_one_retry(rig):
    rig.baseline()
    route = rig.case.idle_route
    rig.emulator.faults.add(route, status=429, headers={"Retry-After": str(RETRY_AFTER)},
                            body=rig.case.rate_limited_body)
    before, served = rig.calls(), rig.emulator.calls[route]
    batch = rig.connector.fetch_changes(rig.cursor(), rig.box.clock.now())
    assert batch.complete and batch.cursor is not None
    assert rig.emulator.faults.take(route) is None, "the 429 was never served"
    assert rig.emulator.calls[route] - served == 2  # the 429, then the 200
    assert rig.calls() - before == 2
    assert rig.sleeps == [RETRY_AFTER]


# 6 ---------------------------------------------------------------------------------------------

def test_an_uncertain_write_is_found_by_its_marker_and_not_repeated(rig):
    case = rig.case
    rig.baseline()
    case.violate(rig.box, rig.record)
    rig.box.clock.advance(30)
    rig.emulator.faults.add(case.uncertain_route, after=True, **case.uncertain_fault)
    first = rig.cycle()  # the write lands; its answer is lost
    assert rig.emulator.faults.take(case.uncertain_route) is None, "the fault was never served"
    assert first.failed >= 1
    entry = rig.violation_entry()
    assert (entry.state, entry.attempts) == ("pending", 1)  # it may have been written
    [remote] = rig.marked(entry.key)  # it was
    writes = case.writes(rig.box)

    found = dict(rig.connector.find_written([rig.pending(entry.key)]))
    assert found == ({entry.key: remote} if case.finds_by_marker else {})

    second = rig.cycle()  # the engine asks find_written before writing again
    if case.finds_by_marker:
        assert second.recovered >= 1
    rig.cycle()
    assert rig.marked(entry.key) == [remote]
    assert case.writes(rig.box) == writes  # nothing written twice
    done = rig.violation_entry()
    assert done.state == "done"
    if case.finds_by_marker:
        assert (done.attempts, done.remote_id) == (1, remote)  # found, never sent again
    else:  # sent again, and the note block it overwrote was its own: the sheet did not change
        assert done.attempts == 2
