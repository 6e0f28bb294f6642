"""The Asana emulator speaks the wire format the asana SDK expects; shared fixtures for test_asana_*.

Other test_asana_* modules import `sandbox` (the fixture) and `Sandbox` from here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asana
import pytest
from asana.rest import ApiException

from baton.connectors.asana import AsanaConnector, AsanaWorkspace
from baton.connectors.budget import RateBudget
from baton.connectors.retry import RetryPolicy
from baton.core.config import AsanaSettings, AsanaSource, Secrets
from baton.sandbox.asana import SANDBOX_TOKEN, AsanaEmulator
from baton.sandbox.asana_seed import (
    DEMO_PROJECT_GID, SECTIONS, seed_content_calendar, sandbox_settings,
)
from baton.sandbox.server import SandboxServer
from baton.sandbox.tls import LocalCA


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("asana-ca"))


@dataclass
class Sandbox:
    emulator: AsanaEmulator
    server: SandboxServer
    ca_pem: Path
    project: str

    def settings(self, **overrides: Any) -> AsanaSettings:
        base, _ = sandbox_settings(self.server.base_url, self.ca_pem)
        return AsanaSettings(**{**base, **overrides})

    def secrets(self) -> Secrets:
        _, env = sandbox_settings(self.server.base_url, self.ca_pem)
        return Secrets(environ=env)

    def workspace(self, *, attempts: int = 5, budget: RateBudget | None = None,
                  **overrides: Any) -> AsanaWorkspace:
        overrides.setdefault("requests_per_minute", 100_000)
        retry = RetryPolicy(attempts=attempts, sleep=lambda s: None)
        return AsanaWorkspace(self.settings(**overrides), self.secrets(), retry, budget=budget)

    def connector(self, *, status: str = "section", project: str | None = None,
                  workspace: AsanaWorkspace | None = None, **overrides: Any) -> AsanaConnector:
        source = AsanaSource(id="asana:content", tool="asana", project=project or self.project,
                             status=status)
        return AsanaConnector(source, workspace or self.workspace(**overrides))

    def task_in(self, section: str, index: int = 0) -> str:
        """The gid of the index-th seeded task sitting in `section`."""
        gids = [g for g in self.emulator.tasks if self.emulator.tasks[g].parent is None
                and self.emulator.section_of(g) == section]
        return gids[index]

    def now(self) -> datetime:
        return self.emulator.clock.now()

    def sdk(self) -> asana.ApiClient:
        config = asana.Configuration()
        config.host = self.settings().base_url
        config.ssl_ca_cert = str(self.ca_pem)
        config.access_token = SANDBOX_TOKEN
        return asana.ApiClient(config)


@pytest.fixture
def sandbox(local_ca: LocalCA) -> Any:
    emulator = AsanaEmulator()
    project = seed_content_calendar(emulator)
    server = SandboxServer(emulator, local_ca).start()
    try:
        yield Sandbox(emulator, server, local_ca.ca_pem, project)
    finally:
        server.stop()


# --- the wire format, as the SDK sees it -----------------------------------------------------------

def test_demo_project_is_seeded_with_fixed_gid_and_realistic_tasks(sandbox: Sandbox) -> None:
    assert sandbox.project == DEMO_PROJECT_GID
    tasks = asana.TasksApi(sandbox.sdk()).get_tasks(
        {"project": sandbox.project, "opt_fields": "name,memberships.section.name,assignee"},
        full_payload=True)
    assert 25 <= len(tasks["data"]) <= 40
    assert "next_page" not in tasks  # no limit sent: no paging envelope
    names = [t["name"] for t in tasks["data"]]
    assert "CMP-1042_email_spring-newsletter_v1_20261124" in names
    sections = {m["section"]["name"] for t in tasks["data"] for m in t["memberships"]}
    assert sections == set(SECTIONS)
    assert all(len(t["gid"]) == 16 and t["gid"].isdigit() for t in tasks["data"])
    assert all(t["assignee"] for t in tasks["data"])


def test_paging_and_opt_fields(sandbox: Sandbox) -> None:
    api = asana.TasksApi(sandbox.sdk())
    page = api.get_tasks({"project": sandbox.project, "limit": 20,
                          "opt_fields": "name,custom_fields.enum_value.name"}, full_payload=True)
    assert len(page["data"]) == 20
    assert set(page["next_page"]) == {"offset", "path", "uri"}
    first = page["data"][0]
    assert set(first) == {"gid", "resource_type", "name", "custom_fields"}
    assert set(first["custom_fields"][1]) == {"gid", "resource_type", "enum_value"}
    last = api.get_tasks({"project": sandbox.project, "limit": 20, "opt_fields": "name",
                          "offset": page["next_page"]["offset"]}, full_payload=True)
    assert last["next_page"] is None
    assert len(page["data"]) + len(last["data"]) == 30
    # the SDK's own iterator follows next_page too
    assert len(list(api.get_tasks({"project": sandbox.project, "limit": 7}))) == 30


@pytest.mark.parametrize("opts, status, fragment", [
    ({"project": DEMO_PROJECT_GID, "limit": 101}, 400, "limit"),
    ({"project": "1209999999999999"}, 404, "Unknown object"),
    ({}, 400, "Must specify"),
])
def test_errors_have_the_real_shape(sandbox: Sandbox, opts: dict, status: int, fragment: str) -> None:
    with pytest.raises(ApiException) as caught:
        asana.TasksApi(sandbox.sdk()).get_tasks(opts, full_payload=True)
    assert caught.value.status == status
    body = json.loads(caught.value.body)
    assert fragment in body["errors"][0]["message"] and body["errors"][0]["help"]


def test_unknown_token_is_401(sandbox: Sandbox) -> None:
    client = sandbox.sdk()
    client.configuration.access_token = "wrong"
    with pytest.raises(ApiException) as caught:
        asana.UsersApi(client).get_user("me", {}, full_payload=True)
    assert caught.value.status == 401


def test_events_412_then_feed_then_expiry(sandbox: Sandbox) -> None:
    events = asana.EventsApi(sandbox.sdk())
    with pytest.raises(ApiException) as first:
        events.get_events(sandbox.project, {}, full_payload=True)
    assert first.value.status == 412
    sync = json.loads(first.value.body)["sync"]
    task = sandbox.task_in("Drafting")
    sandbox.emulator.move_task(task, "Live")
    feed = events.get_events(sandbox.project, {"sync": sync}, full_payload=True)
    kinds = {(e["resource"]["resource_type"], e["action"]) for e in feed["data"]}
    assert ("story", "added") in kinds and ("task", "added") in kinds
    assert feed["has_more"] is False and feed["sync"] != sync
    sandbox.emulator.expire_sync_tokens()
    with pytest.raises(ApiException) as expired:
        events.get_events(sandbox.project, {"sync": feed["sync"]}, full_payload=True)
    assert expired.value.status == 412 and json.loads(expired.value.body)["sync"]


def test_section_move_writes_a_story_but_keeps_modified_at(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    task = sandbox.task_in("Drafting")
    before = emulator.tasks[task].modified_at
    emulator.clock.advance(60)
    emulator.move_task(task, "Live")
    assert emulator.tasks[task].modified_at == before
    stories = asana.StoriesApi(sandbox.sdk()).get_stories_for_task(
        task, {"opt_fields": "resource_subtype,old_section.name,new_section.name"})
    last = list(stories)[-1]
    assert last["resource_subtype"] == "section_changed"
    assert last["new_section"]["name"] == "Live"


def test_batch_is_limited_to_ten_actions(sandbox: Sandbox) -> None:
    batch = asana.BatchAPIApi(sandbox.sdk())
    task = next(iter(sandbox.emulator.tasks))
    action = {"relative_path": f"/tasks/{task}", "method": "get", "options": {"fields": ["name"]}}
    ok = batch.create_batch_request({"data": {"actions": [action] * 10}}, {}, full_payload=True)
    assert [r["status_code"] for r in ok["data"]] == [200] * 10
    with pytest.raises(ApiException) as caught:
        batch.create_batch_request({"data": {"actions": [action] * 11}}, {}, full_payload=True)
    assert caught.value.status == 400


def test_put_custom_fields_by_gid_with_enum_option_gid(sandbox: Sandbox) -> None:
    emulator = sandbox.emulator
    task = next(iter(emulator.tasks))
    channel = next(cf for cf in emulator.custom_fields.values() if cf.name == "Channel")
    blog = channel.option_by_name("blog")["gid"]
    api = asana.TasksApi(sandbox.sdk())
    result = api.update_task({"data": {"custom_fields": {channel.gid: blog}}}, task,
                             {"opt_fields": "custom_fields.name,custom_fields.display_value"},
                             full_payload=True)
    shown = {cf["name"]: cf["display_value"] for cf in result["data"]["custom_fields"]}
    assert shown["Channel"] == "blog"
    with pytest.raises(ApiException) as caught:
        api.update_task({"data": {"custom_fields": {channel.gid: "123"}}}, task, {},
                        full_payload=True)
    assert caught.value.status == 400
