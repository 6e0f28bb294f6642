"""Actions as the ledger keeps them (JSON), and back; ledger rows from older versions included.

Older builds kept a generic `resolve` action with its meaning in a string-keyed `payload`
(`resolves_kind`, `expected_status`, `webhook_env`) and owners as text; a pending row of theirs
still reads as the typed intent it meant.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from baton.core.actions import Action, ActionKind
from baton.core.owners import OwnerRef


def action_to_dict(action: Action) -> dict[str, Any]:
    data = asdict(action)
    data["kind"] = action.kind.value
    data["assignee"] = None if action.assignee is None else str(action.assignee)
    return data


def action_from_dict(data: Mapping[str, Any]) -> Action:
    data = dict(data)
    payload = data.pop("payload", None) or {}
    if data["kind"] == "resolve":
        data["kind"], data["target"] = _legacy_resolution(data, payload), data.pop("resolves", None)
    data.pop("resolves", None)
    data.setdefault("expected_status", payload.get("expected_status"))
    data.setdefault("webhook_env", payload.get("webhook_env"))
    assignee = data.get("assignee")
    data["assignee"] = None if assignee in (None, "") else OwnerRef.parse(assignee)
    return Action(**{**data, "kind": ActionKind(data["kind"])})


def _legacy_resolution(data: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    closes = payload.get("resolves_kind")
    if closes == "task" or str(data.get("resolves") or "").startswith("00T"):
        return ActionKind.CLOSE_TASK.value
    if str(data.get("source", "")).startswith("sheets:"):
        return ActionKind.REMOVE_NOTE.value
    return ActionKind.REPLY.value
