"""One Asana project as one source sees it: the shared workspace, this source's call counter and
the project's own metadata (section and custom field ids), read once per process.

Both halves of the connector (read.py, write.py) work through it, so every call they make is
counted for this source, and neither holds what the store knows (records, statuses).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from baton.core.errors import PayloadError, TransientError

from .client import BATCH_SIZE, PAGE_SIZE, AsanaWorkspace, Calls, Pager, batch_error, object_list
from .fields import TASK_FIELDS


class AsanaProject:
    def __init__(self, workspace: AsanaWorkspace, gid: str, source_id: str) -> None:
        self.workspace = workspace
        self.gid = gid
        self.source_id = source_id
        self.calls: Calls = Counter()
        self._section_gids: dict[str, str] | None = None  # name -> gid
        self._field_defs: dict[str, dict[str, Any]] | None = None  # name -> custom field

    def total_calls(self) -> int:
        return sum(self.calls.values())

    def sections(self) -> dict[str, str]:
        """Section name -> gid."""
        if self._section_gids is None:
            sections = self.workspace.sections(self.gid, self.calls)
            self._section_gids = {s["name"]: s["gid"] for s in sections
                                  if isinstance(s.get("name"), str) and isinstance(s.get("gid"), str)}
        return self._section_gids

    def custom_fields(self) -> dict[str, dict[str, Any]]:
        """Custom field name -> its definition (gid, type, enum options)."""
        if self._field_defs is None:
            settings = self.workspace.custom_fields(self.gid, self.calls)
            self._field_defs = {
                s["custom_field"]["name"]: s["custom_field"] for s in settings
                if isinstance(s.get("custom_field"), dict) and s["custom_field"].get("name")}
        return self._field_defs

    def batch(self, actions: Sequence[dict[str, Any]], *, write: bool) -> list[dict[str, Any]]:
        return self.workspace.batch(actions, self.calls, write=write)

    def read_tasks(self, gids: Sequence[str], log: Any) -> tuple[list[dict[str, Any]], bool]:
        """Tasks by gid, 10 per batch call; (tasks, every read answered?). A deleted task, or one
        no longer visible to us, is simply not returned."""
        found: list[dict[str, Any]] = []
        complete = True
        fields = TASK_FIELDS.split(",")
        for chunk in chunks(gids, BATCH_SIZE):
            actions = [{"relative_path": f"/tasks/{g}", "method": "get",
                        "options": {"fields": fields}} for g in chunk]
            try:
                results = self.batch(actions, write=False)
            except TransientError as error:
                log.warning("asana.reread_failed", error=str(error))
                return found, False
            for gid, result in zip(chunk, results):
                status = result.get("status_code", 0)
                if isinstance(status, int) and 200 <= status < 300:
                    body = result.get("body")
                    task = body.get("data") if isinstance(body, dict) else None
                    if not isinstance(task, dict):
                        raise PayloadError(f"Asana batch GET /tasks/{{gid}} for {gid}: "
                                           "body.data is not an object")
                    found.append(task)
                elif status not in (403, 404):
                    log.warning("asana.reread_failed", task=gid, status=status)
                    complete = False
        return found, complete

    def read_lists(self, gids: Sequence[str], what: str,
                   fields: list[str]) -> dict[str, list[dict[str, Any]]]:
        """`/tasks/{gid}/{what}` for many tasks, 10 per batch call, following rare next pages."""
        out: dict[str, list[dict[str, Any]]] = {}
        endpoint = f"GET /tasks/{{gid}}/{what}"
        for chunk in chunks(gids, BATCH_SIZE):
            actions = [{"relative_path": f"/tasks/{g}/{what}", "method": "get",
                        "options": {"limit": PAGE_SIZE, "fields": fields}} for g in chunk]
            for gid, result in zip(chunk, self.batch(actions, write=False)):
                status = result.get("status_code", 0)
                if status in (403, 404):
                    out[gid] = []
                    continue
                if not isinstance(status, int) or not 200 <= status < 300:
                    raise TransientError(f"Asana batch {endpoint} for {gid}: {batch_error(result)}")
                body = result.get("body")
                if not isinstance(body, dict):
                    raise PayloadError(f"Asana batch {endpoint} for {gid}: body is not an object")
                where = f"Asana batch {endpoint} for {gid}"
                items = list(object_list(body, "data", where))
                pager = Pager(where)
                offset = pager.next_offset(body)
                while offset is not None:
                    page = self.workspace.get_page(
                        f"/tasks/{gid}/{what}", {"limit": PAGE_SIZE, "opt_fields": ",".join(fields),
                                                 "offset": offset}, endpoint, self.calls)
                    items.extend(object_list(page, "data", f"Asana {endpoint}"))
                    offset = pager.next_offset(page)
                out[gid] = items
        return out


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
