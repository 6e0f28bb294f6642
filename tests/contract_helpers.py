"""What the connector contract suite needs to know about each tool, and nothing it asserts.

One `ToolCase` per tool: which source it runs, which emulator routes are reads and writes, how a
cursor sorts (as the connector itself stores it), how to change a record without tripping a gate,
how to move one into a gate it fails, and how to count what carries a write-back's marker.
Everything here reaches the sandbox only through the emulators' public helpers and counters.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.sandbox.environment import Sandbox
from tests.conftest import ROOT

# The gate rules only (no SLA timers: they would add escalations as the clock moves).
RULES = [str(ROOT / "rules" / "demo" / n) for n in
         ("asana-content.toml", "salesforce-leads.toml", "sheets-utm.toml", "taxonomy.toml")]

BAD_LEAD = {"FirstName": "Grace", "LastName": "Hopper", "Company": "Cobol Systems",
            "Email": "grace@cobol", "LeadSource": "Webinar", "Consent__c": False,
            "Status": "Open - Not Contacted"}
TAB, KEY = "UTM Tracker", "Campaign ID"


@dataclass(frozen=True)
class ToolCase:
    tool: str
    source_id: str
    idle_route: str  # the one emulator route an idle poll calls
    write_routes: tuple[str, ...]  # emulator routes that change the tool's data
    rate_limited_body: Any  # the tool's own 429 body
    uncertain_route: str  # the write route that lands but loses its answer in case 6
    uncertain_fault: dict[str, Any]
    cursor_key: Callable[[str], Any]  # the cursor as the connector reads it, sortable
    prepare: Callable[[Sandbox], str]  # before the baseline: the record case 4/6 will move
    touch: Callable[[Sandbox, int], str]  # a change no gate cares about: the record id
    violate: Callable[[Sandbox, str], None]  # move the record into a gate it fails
    marked: Callable[[Sandbox, str, str], list[str]]  # ids of the items bearing a marker
    # Sheets overwrites a note block instead of appending, so its find_written is always {}
    # (connectors/sheets/: "writing an action again after a crash is harmless").
    finds_by_marker: bool = True
    inner_write_routes: tuple[str, ...] = field(default=())  # Asana: actions inside POST /batch

    def writes(self, box: Sandbox) -> int:
        """Write requests the emulator has served (Asana's batch actions included)."""
        emulator = emulator_of(box, self.tool)
        inner = getattr(emulator, "action_calls", {})
        return (sum(emulator.calls[r] for r in self.write_routes)
                + sum(inner.get(r, 0) for r in self.inner_write_routes))


def emulator_of(box: Sandbox, tool: str) -> Any:
    return {"salesforce": box.salesforce, "asana": box.asana, "sheets": box.sheets}[tool]


# --- Salesforce ---------------------------------------------------------------------------------

def _sf_cursor(cursor: str) -> datetime:
    return datetime.strptime(cursor, "%Y-%m-%dT%H:%M:%S.%f%z")  # SystemModstamp, as SOQL takes it


def _sf_marked(box: Sandbox, record_id: str, marker: str) -> list[str]:
    """Tasks and feed posts anywhere in the org (a marker is unique to one ledger key)."""
    tasks = [t["Id"] for t in box.salesforce.records("Task") if marker in (t.get("Description") or "")]
    posts = [f["Id"] for f in box.salesforce.records("FeedItem") if marker in (f.get("Body") or "")]
    return tasks + posts


def _sf_touch(box: Sandbox, n: int) -> str:
    lead = box.org.lead_ids[0]
    box.salesforce.update_record("Lead", lead, {"Title": f"VP Marketing {n}"})
    return lead


SALESFORCE = ToolCase(
    tool="salesforce", source_id="salesforce:leads", idle_route="query",
    write_routes=("sobject_create", "sobject_update", "sobject_delete",
                  "composite_create", "composite_update"),
    rate_limited_body=[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests"}],
    uncertain_route="composite_create", uncertain_fault={"status": 500, "body": [
        {"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}]},
    cursor_key=_sf_cursor,
    prepare=lambda box: box.salesforce.create_record("Lead", BAD_LEAD),
    touch=_sf_touch,
    violate=lambda box, lead: box.salesforce.update_record("Lead", lead, {"Status": "MQL"}),
    marked=_sf_marked,
)


# --- Asana --------------------------------------------------------------------------------------

def _asana_cursor(cursor: str) -> tuple[int, datetime]:
    state = json.loads(cursor)  # {"sync": opaque, "reconciled_at": ISO, "cycle": n, ...}
    assert isinstance(state["sync"], str) and state["sync"], "an Asana cursor without a sync token"
    return state["cycle"], datetime.fromisoformat(state["reconciled_at"])


def _asana_task(box: Sandbox, prefix: str = "CMP-1050_") -> str:
    return next(gid for gid, t in box.asana.tasks.items() if t.name.startswith(prefix))


def _asana_marked(box: Sandbox, task: str, marker: str) -> list[str]:
    comments = [c["gid"] for c in box.asana.comments(task) if marker in (c.get("text") or "")]
    subtasks = [s["gid"] for s in box.asana.subtasks(task) if marker in (s.get("notes") or "")]
    return comments + subtasks


def _asana_touch(box: Sandbox, n: int) -> str:
    task = _asana_task(box, "CMP-1051_")  # in Drafting: no gate
    box.asana.rename_task(task, f"CMP-1051_blog_ai-in-marketing-ops_v{n + 2}_20261124")
    return task


ASANA_WRITES = ("update_task", "create_task", "create_subtask_for_task", "create_story_for_task",
                "add_task_for_section")
ASANA = ToolCase(
    tool="asana", source_id="asana:content-calendar", idle_route="get_events",
    write_routes=ASANA_WRITES, inner_write_routes=ASANA_WRITES,
    rate_limited_body={"errors": [{"message": "You have made too many requests recently."}]},
    uncertain_route="create_batch_request",
    # POST /batch carries reads too: the fault waits for the batch that carries a marker
    uncertain_fault={"status": 503, "body": {"errors": [{"message": "Server Error"}]},
                     "body_contains": b"[baton:"},
    cursor_key=_asana_cursor,
    prepare=_asana_task,
    touch=_asana_touch,
    violate=lambda box, task: box.asana.move_task(task, "Ready for Design"),
    marked=_asana_marked,
)


# --- Sheets -------------------------------------------------------------------------------------

def _google_error(code: int, status: str, reason: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": status.replace("_", " ").lower(), "status": status,
                      "errors": [{"message": status, "domain": "global", "reason": reason}]}}


def _sheets_marked(box: Sandbox, key: str, marker: str) -> list[str]:
    notes = box.sheets.notes(box.spreadsheet_id, TAB)
    return [key for text in notes.values() for _ in range(text.count(marker))]


def _sheets_touch(box: Sandbox, n: int) -> str:
    box.sheets.set_cell(box.spreadsheet_id, TAB, KEY, "CMP-1101", "Owner", f"owner{n}@northwind.example")
    return "CMP-1101"


SHEETS = ToolCase(
    tool="sheets", source_id="sheets:utm-tracker", idle_route="drive_files_get",
    write_routes=("batch_update", "values_clear", "values_update", "values_batch_update"),
    rate_limited_body=_google_error(429, "RESOURCE_EXHAUSTED", "rateLimitExceeded"),
    uncertain_route="batch_update",
    uncertain_fault={"status": 500, "body": _google_error(500, "INTERNAL", "backendError")},
    cursor_key=int,  # the file's Drive `version`, a counter sent as a string
    prepare=lambda box: "CMP-1106",  # its Landing URL repeats utm_source
    touch=_sheets_touch,
    violate=lambda box, key: box.sheets.set_cell(box.spreadsheet_id, TAB, KEY, key, "Status",
                                                 "Ready for QA"),
    marked=_sheets_marked,
    finds_by_marker=False,
)

CASES = {case.tool: case for case in (SALESFORCE, ASANA, SHEETS)}
