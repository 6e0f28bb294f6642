"""Asana answers Baton cannot read (issue #11): each is a PayloadError that names the source and
the field, never a traceback; paging stops when the server pages in circles. Real SDK, the
sandbox emulator serving the fault bodies. Also: calls are counted per source, and the token the
workspace uses is registered with the log scrubber."""
from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from baton.core import logs
from baton.core.config import Secrets
from baton.core.errors import PayloadError
from baton.sandbox.asana_seed import DEMO_PROJECT_GID, seed_scale
from test_asana_sandbox import Sandbox, local_ca, sandbox  # noqa: F401  (fixtures)

SOURCE = "asana:content"


def polled(sandbox: Sandbox, **overrides: Any):  # type: ignore[no-untyped-def]
    """A connector past its baseline, and the cursor to poll from."""
    connector = sandbox.connector(**overrides)
    batch = connector.fetch_changes(None, sandbox.now())
    assert batch.complete
    return connector, batch.cursor


TASK_EVENT = {"action": "changed", "resource": {"resource_type": "task"}, "parent": None}


@pytest.mark.parametrize(("body", "fragment"), [
    ({"data": ["not an event"], "sync": "s1", "has_more": False}, "data[0] is not an object"),
    ({"data": {"gid": "1"}, "sync": "s1", "has_more": False}, "data is not a list"),
    ({"data": [TASK_EVENT], "sync": "s1", "has_more": False}, "data[0].resource.gid is missing"),
    ({"data": [{**TASK_EVENT, "resource": "task"}], "sync": "s1"},
     "data[0].resource is not an object"),
    ({"data": [], "sync": 7, "has_more": False}, "sync is not a string"),
    ({"data": [], "has_more": True}, "has_more without a new sync token"),
], ids=["event-not-object", "data-not-list", "task-without-gid", "resource-not-object",
        "sync-not-string", "has-more-forever"])
def test_a_malformed_events_answer_is_a_payload_error(sandbox: Sandbox, body: dict,
                                                      fragment: str) -> None:
    connector, cursor = polled(sandbox)
    sandbox.emulator.faults.add("get_events", status=200, body=body)
    with pytest.raises(PayloadError) as caught:
        connector.fetch_changes(cursor, sandbox.now())
    assert str(caught.value).startswith(f"{SOURCE}: Asana GET /events: ")
    assert fragment in str(caught.value)


@pytest.mark.parametrize(("body", "fragment"), [
    ({"data": {"gid": "1"}}, "GET /tasks: data is not a list"),
    ({"data": [{"name": "no gid"}], "next_page": None}, "a task's gid is missing"),
    ({"data": ["a task?"], "next_page": None}, "GET /tasks: data[0] is not an object"),
    ({"data": [], "next_page": "abc"}, "GET /tasks: next_page is not an object"),
    ({"data": [], "next_page": {"offset": 5}}, "GET /tasks: next_page.offset is not a string"),
    ({"data": [{"gid": "1209000000099999", "memberships": "all"}], "next_page": None},
     "task 1209000000099999: memberships is not a list of objects"),
    ({"data": [{"gid": "1209000000099999", "modified_at": "yesterday", "memberships": [
        {"project": {"gid": DEMO_PROJECT_GID}}]}], "next_page": None},
     "task 1209000000099999: 'yesterday' is not a timestamp"),
], ids=["data-not-list", "task-without-gid", "task-not-object", "next-page-not-object",
        "offset-not-string", "memberships-not-list", "bad-modified-at"])
def test_a_malformed_tasks_page_is_a_payload_error(sandbox: Sandbox, body: dict,
                                                   fragment: str) -> None:
    connector = sandbox.connector()
    sandbox.emulator.faults.add("get_tasks", status=200, body=body)
    with pytest.raises(PayloadError) as caught:
        connector.fetch_changes(None, sandbox.now())
    assert str(caught.value).startswith(f"{SOURCE}: ")
    assert fragment in str(caught.value)


def test_an_offset_that_repeats_stops_paging(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    page = {"data": [], "next_page": {"offset": "same", "path": "/tasks?offset=same", "uri": "x"}}
    sandbox.emulator.faults.add("get_tasks", times=3, status=200, body=page)
    with pytest.raises(PayloadError, match="GET /tasks: next_page.offset repeats; paging stopped"):
        connector.fetch_changes(None, sandbox.now())
    assert sandbox.emulator.calls["get_tasks"] == 2


def test_a_batch_reread_without_a_task_object_is_a_payload_error(sandbox: Sandbox) -> None:
    connector, cursor = polled(sandbox)
    task = sandbox.task_in("Drafting")
    sandbox.emulator.rename_task(task, "CMP-1099_email_renamed_v1_20261124")
    sandbox.emulator.faults.add("create_batch_request", status=200, body={
        "data": [{"status_code": 200, "headers": {}, "body": {"data": "not a task"}}]})
    with pytest.raises(PayloadError, match=f"batch GET /tasks/{{gid}} for {task}: body.data is "
                                           "not an object"):
        connector.fetch_changes(cursor, sandbox.now())


@pytest.mark.parametrize(("body", "fragment"), [
    ({"data": [], "next_page": "more"}, "next_page is not an object"),
    ({"data": "stories"}, "data is not a list"),
    ([], "body is not an object"),
    ({"data": [{"resource_subtype": "section_changed", "created_at": "soon",
                "new_section": {"gid": "1", "name": "Live"}}]}, "'soon' is not a timestamp"),
], ids=["next-page-not-object", "data-not-list", "body-not-object", "bad-created-at"])
def test_malformed_stories_are_a_payload_error(sandbox: Sandbox, body: Any, fragment: str) -> None:
    connector, _ = polled(sandbox)
    task = sandbox.task_in("Drafting")
    connector.status_history([task], None)  # the sections are read (and kept) first
    sandbox.emulator.faults.add("create_batch_request", status=200, body={
        "data": [{"status_code": 200, "headers": {}, "body": body}]})
    with pytest.raises(PayloadError) as caught:
        connector.backfill_history([task], sandbox.now())
    assert str(caught.value).startswith(f"{SOURCE}: ") and fragment in str(caught.value)


def test_a_payload_error_is_a_failed_poll_not_a_crash(make_sandbox, runtime_on) -> None:
    box = make_sandbox("asana")
    runtime, runner = runtime_on(box)
    runner.run_all()  # baseline
    source = next(iter(runtime.connectors))
    box.asana.faults.add("get_events", status=200, body={"data": [42], "sync": "s1"})
    box.clock.advance(60)
    with capture_logs() as events:
        reports = runner.run_all()
    assert reports[source] is None
    assert "source.cycle_crashed" not in [e["event"] for e in events]
    [failed] = [e for e in events if e["event"] == "source.poll_failed"]
    assert failed["error"] == (f"PayloadError: {source}: Asana GET /events: data[0] is not an "
                               "object")
    box.clock.advance(60)
    assert runner.run_all()[source] is not None  # the next poll reads the feed again


def test_two_projects_on_one_workspace_count_their_own_calls(sandbox: Sandbox) -> None:
    other = seed_scale(sandbox.emulator, 20)
    workspace = sandbox.workspace()
    first = sandbox.connector(workspace=workspace)
    second = sandbox.connector(project=other, workspace=workspace)
    first.fetch_changes(None, sandbox.now())
    assert second.api_calls() == {}
    second.fetch_changes(None, sandbox.now())
    assert first.api_calls() == {"GET /events": 1, "GET /tasks": 1}
    assert second.api_calls() == {"GET /events": 1, "GET /tasks": 1}


def test_the_access_token_is_registered_with_the_log_scrubber(sandbox: Sandbox) -> None:
    token = "2/1209000000000002/777:feedfacefeedfacefeedface"
    sandbox.connector(workspace=type(sandbox.workspace())(
        sandbox.settings(), Secrets(environ={"ASANA_ACCESS_TOKEN": token}),
        sandbox.workspace().retry))
    event = logs.scrub_secrets(None, "info", {"event": "x", "error": f"Bearer {token} refused"})
    assert event["error"] == "Bearer *** refused"
