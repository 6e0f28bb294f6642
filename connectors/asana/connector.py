"""`AsanaConnector`: one Asana project as a Baton source; status is its section or an enum
custom field. A thin shell: reads in read.py, writes in write.py, transport in client.py."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from baton.connectors.base import Connector
from baton.connectors.capabilities import CAPABILITIES
from baton.core.actions import Action, ActionResult
from baton.core.config import AsanaSource
from baton.core.records import ChangeBatch, FieldChange, StatusChange

from .client import AsanaWorkspace
from .project import AsanaProject
from .read import ProjectReader
from .write import ProjectWriter


class AsanaConnector(Connector):
    """One Asana project as a Baton source."""

    capabilities = CAPABILITIES["asana"]

    def __init__(self, source: AsanaSource, workspace: AsanaWorkspace) -> None:
        self.source = source
        self.source_id = source.id
        self.workspace = workspace
        self._project = AsanaProject(workspace, source.project, source.id)
        self._reader = ProjectReader(self._project, source, workspace.settings.reconcile_every)
        self._writer = ProjectWriter(self._project, source.status)

    @property
    def project(self) -> str:
        return self._project.gid

    def api_calls(self) -> Mapping[str, int]:
        """This source's calls only, also when other projects share the workspace."""
        return dict(self._project.calls)

    def close(self) -> None:
        self.workspace.close()

    def fetch_changes(self, cursor: str | None, now: datetime) -> ChangeBatch:
        return self._reader.fetch_changes(cursor, now)

    def status_history(self, record_ids: Sequence[str],
                       since: datetime | None) -> Mapping[str, Sequence[StatusChange]]:
        """Stories of the tasks asked for; the engine asks for the hinted and the moved ones."""
        return self._reader.status_history(record_ids, since)

    def backfill_history(self, record_ids: Sequence[str],
                         since: datetime) -> Mapping[str, Sequence[StatusChange]]:
        """Every task's stories, for `baton backfill`."""
        return self._reader.status_history(record_ids, since, again=True)

    def field_history(self, record_ids: Sequence[str],
                      since: datetime) -> Mapping[str, Sequence[FieldChange]]:
        return self._reader.field_history(record_ids, since)

    def write_back(self, actions: Sequence[Action]) -> Sequence[ActionResult]:
        return self._writer.write_back(actions)

    def find_written(self, actions: Sequence[Action]) -> Mapping[str, str]:
        return self._writer.find_written(actions)
