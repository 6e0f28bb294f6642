"""AsanaConnector writes and resilience: batching, markers, crash repair, 429, 5xx, budget, secrets."""
from __future__ import annotations

import pytest
import structlog

from baton.core.owners import OwnerRef
from baton.core.actions import Action, ActionKind
from baton.core.keys import idempotency_marker
from baton.connectors.budget import RateBudget
from baton.core.errors import AuthError, TransientError
from baton.core.config import Secrets
from baton.sandbox.asana import SANDBOX_TOKEN
from test_asana_sandbox import Sandbox, local_ca, sandbox  # noqa: F401  (fixtures)

SOURCE = "asana:content"


def comment(key: str, task: str, text: str = "Visual brief is missing.") -> Action:
    return Action(key, ActionKind.COMMENT, SOURCE, task, "content-to-design", text=text)


def subtask(key: str, task: str, assignee: str | None = None) -> Action:
    return Action(key, ActionKind.TASK, SOURCE, task, "content-to-design",
                  subject="Add the visual brief", text="The design gate needs a brief.",
                  assignee=OwnerRef.parse(assignee) if assignee else None)


def move(key: str, task: str, to: str) -> Action:
    return Action(key, ActionKind.MOVE_STATUS, SOURCE, task, "content-to-design", value=to)


def test_comment_subtask_and_move_are_written(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    task = sandbox.task_in("Ready for Design")
    maya = next(g for g, u in emulator.users.items() if u.name == "Maya Ortiz")
    results = connector.write_back([
        comment("c1", task), subtask("t1", task), subtask("t2", task, "user:priya.nair@acme.example"),
        move("m1", task, "Drafting"),
        Action("f1", ActionKind.SET_FIELD, SOURCE, task, "g", field="Channel", value="blog"),
        Action("f2", ActionKind.SET_FIELD, SOURCE, task, "g", field="Visual brief",
               value="Hero 1200x628"),
    ])
    assert all(r.ok for r in results), results
    [story] = emulator.comments(task)
    assert story["text"].startswith("Visual brief is missing.")
    assert idempotency_marker("c1") in story["text"].splitlines()[-1]
    assert story["created_by"] == "1209000000000002"  # the token's user
    assert results[0].remote_id == story["gid"]
    subs = emulator.subtasks(task)
    assert [s["name"] for s in subs] == ["Add the visual brief"] * 2
    assert subs[0]["assignee"]["gid"] == emulator.tasks[task].assignee  # "owner" by default
    assert subs[1]["assignee"]["name"] == "Priya Nair"
    assert idempotency_marker("t1") in subs[0]["notes"]
    assert emulator.section_of(task) == "Drafting"
    values = {cf["name"]: cf["display_value"] for cf in emulator._render_task(
        emulator.tasks[task])["custom_fields"]}
    assert values["Channel"] == "blog" and values["Visual brief"] == "Hero 1200x628"
    assert maya  # seeded users exist
    # the move's story is a real section_changed story
    assert emulator.tasks[task].stories[-3]["resource_subtype"] == "section_changed" or any(
        s["resource_subtype"] == "section_changed" for s in emulator.tasks[task].stories[-4:])


def test_25_writes_take_3_batch_calls(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    tasks = [sandbox.task_in(s) for s in ("Drafting", "Ready for Design", "In Design")]
    actions = [comment(f"k{i}", tasks[i % 3], f"note {i}") for i in range(25)]
    results = connector.write_back(actions)
    assert all(r.ok for r in results)
    assert connector.api_calls() == {"POST /batch": 3}
    assert sandbox.emulator.calls["create_batch_request"] == 3
    assert sum(len(sandbox.emulator.comments(t)) for t in tasks) == 25


def test_find_written_after_a_crash_means_nothing_is_written_twice(sandbox: Sandbox) -> None:
    task = sandbox.task_in("Ready for Design")
    other = sandbox.task_in("In Design")
    actions = [comment("c1", task), subtask("t1", task), comment("c2", other),
               comment("never", other)]
    first = sandbox.connector()
    written = first.write_back(actions[:3])
    # the process dies before the ledger records the results; a new process repairs
    second = sandbox.connector()
    found = second.find_written(actions)
    assert found == {a.key: r.remote_id for a, r in zip(actions[:3], written)}
    assert second.api_calls() == {"POST /batch": 2}  # stories of 2 tasks, subtasks of 1
    missing = [a for a in actions if a.key not in found]
    assert [a.key for a in missing] == ["never"]
    second.write_back(missing)
    assert len(sandbox.emulator.comments(task)) == 1
    assert len(sandbox.emulator.comments(other)) == 2
    assert len(sandbox.emulator.subtasks(task)) == 1


def test_transient_batch_failure_is_not_retried_blindly(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    task = sandbox.task_in("Drafting")
    emulator.faults.add("create_batch_request", status=503, body={"errors": [{"message": "x"}]})
    results = connector.write_back([comment("c1", task)])
    assert results[0].ok is False and results[0].retryable is True
    assert emulator.calls["create_batch_request"] == 1  # a POST is never retried by itself
    assert connector.find_written([comment("c1", task)]) == {}
    assert connector.write_back([comment("c1", task)])[0].ok


def test_action_level_failures_are_reported_per_action(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    task = sandbox.task_in("Drafting")
    emulator.faults.add("batch.create_story_for_task", status=500)
    results = connector.write_back([comment("c1", task), move("m1", task, "Nowhere"),
                                    move("m2", task, "In Design")])
    assert (results[0].ok, results[0].retryable) == (False, True)
    assert (results[1].ok, results[1].retryable) == (False, False)
    assert "no section named 'Nowhere'" in (results[1].error or "")
    assert results[2].ok and emulator.section_of(task) == "In Design"


def test_resolve_completes_the_subtask_or_comments(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector()
    task = sandbox.task_in("Ready for Design")
    [opened, commented] = connector.write_back([subtask("t1", task), comment("c1", task)])
    results = connector.write_back([
        Action("r1", ActionKind.CLOSE_TASK, SOURCE, task, "g", target=opened.remote_id),
        Action("r2", ActionKind.REPLY, SOURCE, task, "g", target=commented.remote_id),
    ])
    assert all(r.ok for r in results), results
    assert emulator.tasks[opened.remote_id].completed is True
    texts = [c["text"] for c in emulator.comments(task)]
    assert any(idempotency_marker("r2") in t and t.startswith("Resolved") for t in texts)


def test_429_with_retry_after_then_success_on_get_and_post(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    waits: list[float] = []
    workspace = sandbox.workspace()
    workspace.retry = type(workspace.retry)(attempts=5, sleep=waits.append)
    connector = sandbox.connector(workspace=workspace)
    emulator.faults.add("get_tasks", status=429, headers={"Retry-After": "7"},
                        body={"errors": [{"message": "Too many requests"}]})
    emulator.faults.add("create_batch_request", status=429, headers={"Retry-After": "3"},
                        body={"errors": [{"message": "Too many requests"}]})
    with structlog.testing.capture_logs() as logs:
        batch = connector.fetch_changes(None, sandbox.now())
        results = connector.write_back([comment("c1", sandbox.task_in("Drafting"))])
    assert len(batch.records) == 30 and results[0].ok
    assert waits == [7.0, 3.0]
    assert emulator.calls["get_tasks"] == 2 and emulator.calls["create_batch_request"] == 2
    assert [e["event"] for e in logs if e["event"] == "api.retry_wait"] == ["api.retry_wait"] * 2


def test_5xx_storm_gives_transient_error_after_bounded_attempts(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(attempts=4)
    emulator.faults.add("get_events", times=10, status=502, body={"errors": [{"message": "Bad"}]})
    with pytest.raises(TransientError):
        connector.fetch_changes(None, sandbox.now())
    assert emulator.calls["get_events"] == 4


def test_malformed_json_and_timeouts_are_transient(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(attempts=1, timeout_seconds=0.3)
    emulator.faults.add("get_events", raw=b'{"data": [tru', status=200)
    with pytest.raises(TransientError):
        connector.fetch_changes(None, sandbox.now())
    emulator.faults.add("get_events", delay=1.0, status=412, body={})
    with pytest.raises(TransientError):
        connector.fetch_changes(None, sandbox.now())


def test_the_budget_waits_instead_of_hitting_429(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    clock = emulator.clock
    emulator.rate_limit_per_minute = 20
    budget = RateBudget(20, tool="asana", clock=clock.monotonic, sleep=clock.advance)
    connector = sandbox.connector(workspace=sandbox.workspace(budget=budget))
    cursor = connector.fetch_changes(None, clock.now()).cursor
    task = sandbox.task_in("Drafting")
    actions = [comment(f"k{i}", task, f"n{i}") for i in range(30)]  # 30 units in 3 batches
    for _ in range(5):
        cursor = connector.fetch_changes(cursor, clock.now()).cursor
    results = connector.write_back(actions)
    assert all(r.ok for r in results)
    assert emulator.calls["rate_limited"] == 0 and emulator.calls["rate_limited_total"] == 0
    assert budget.waited_seconds > 0


def test_bad_token_is_an_auth_error_and_never_shown(sandbox: Sandbox) -> None:
    from baton.connectors.asana import AsanaWorkspace
    from baton.connectors.retry import RetryPolicy

    secret = "2/1209000000000002/999:deadbeefdeadbeefdeadbeef"
    workspace = AsanaWorkspace(sandbox.settings(), Secrets(environ={"ASANA_ACCESS_TOKEN": secret}),
                               RetryPolicy(sleep=lambda s: None))
    connector = sandbox.connector(workspace=workspace)
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthError) as caught:
        connector.fetch_changes(None, sandbox.now())
    assert "401" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert secret not in repr(logs)


def test_token_never_appears_in_logs_or_errors(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    connector = sandbox.connector(attempts=2)
    errors: list[str] = []
    with structlog.testing.capture_logs() as logs:
        cursor = connector.fetch_changes(None, sandbox.now()).cursor
        emulator.move_task(sandbox.task_in("Drafting"), "Live")
        emulator.expire_sync_tokens()
        connector.fetch_changes(cursor, sandbox.now())
        # a server that echoes the token back in an error must not leak it either
        emulator.faults.add("get_events", times=2, status=500,
                            body={"errors": [{"message": f"bad token {SANDBOX_TOKEN}"}]})
        try:
            connector.fetch_changes(cursor, sandbox.now())
        except TransientError as error:
            errors.append(str(error))
        emulator.faults.add("create_batch_request", status=500,
                            body={"errors": [{"message": SANDBOX_TOKEN}]})
        errors.extend(r.error or "" for r in connector.write_back([comment("c", "1")]))
    assert len(errors) == 2 and all("***" in e for e in errors)
    assert SANDBOX_TOKEN not in repr(logs) and all(SANDBOX_TOKEN not in e for e in errors)
    assert SANDBOX_TOKEN not in repr(connector.api_calls())


def test_without_the_budget_the_same_work_meets_429s_and_still_finishes(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    emulator.rate_limit_per_minute = 20
    waits: list[float] = []
    workspace = sandbox.workspace()  # a budget far above the emulated limit
    workspace.retry = type(workspace.retry)(attempts=5, sleep=lambda s: (
        waits.append(s), emulator.clock.advance(s)))
    connector = sandbox.connector(workspace=workspace)
    cursor = connector.fetch_changes(None, emulator.clock.now()).cursor
    for _ in range(5):
        cursor = connector.fetch_changes(cursor, emulator.clock.now()).cursor
    task = sandbox.task_in("Drafting")
    results = connector.write_back([comment(f"k{i}", task, f"n{i}") for i in range(30)])
    assert all(r.ok for r in results), [(r.error, waits) for r in results if not r.ok]
    assert emulator.calls["rate_limited_total"] > 0 and waits


def test_subtask_owner_is_looked_up_when_the_task_was_never_read(sandbox: Sandbox) -> None:
    connector = sandbox.connector()  # fresh process: no fetch yet
    task = sandbox.task_in("In Design")
    [result] = connector.write_back([subtask("t9", task)])
    assert result.ok
    assert connector.api_calls() == {"GET /tasks/{gid}": 1, "POST /batch": 1}
    [sub] = sandbox.emulator.subtasks(task)
    assert sub["assignee"]["gid"] == sandbox.emulator.tasks[task].assignee
