"""Routes: the Events API (sync tokens, the 412-with-`sync` answer, batches of events)."""
from __future__ import annotations

import secrets

from baton.sandbox.server import Request, Response, route

from .api import AsanaApi
from .model import (
    API, EVENTS_PER_CALL, SYNC_EXPIRED_MESSAGE, SYNC_TOKEN_LIFETIME, ApiError, Project, SyncToken,
    error_body,
)
from .wire import opt_fields, project_fields


class EventRoutes(AsanaApi):
    @route("GET", API + r"/events", name="get_events")
    def get_events(self, request: Request) -> Response:
        resource = request.arg("resource")
        if not resource:
            raise ApiError(400, "resource: Missing input")
        project = self._project(resource)
        token = self._sync.get(request.arg("sync") or "")
        now = self.clock.now()
        if token is None or token.project != project.gid or \
                now - token.created_at > SYNC_TOKEN_LIFETIME:
            fresh = self._new_sync(project, len(project.events))
            return Response(412, {**error_body(SYNC_EXPIRED_MESSAGE), "sync": fresh})
        batch = project.events[token.position:token.position + EVENTS_PER_CALL]
        position = token.position + len(batch)
        fields = opt_fields(request)
        return Response(200, {
            "data": [project_fields(e, fields) if fields else e for e in batch],
            "sync": self._new_sync(project, position),
            "has_more": position < len(project.events),
        })

    def _new_sync(self, project: Project, position: int) -> str:
        value = secrets.token_hex(16)
        self._sync[value] = SyncToken(project.gid, position, self.clock.now())
        return value
