"""The emulator's state and the plumbing every route shares: Google-shaped errors, the caller's
access token, spreadsheet lookup with sharing, and the Drive version bump. The base of the class
chain: SheetsState -> the route classes (auth, metadata, batch_update, values) and the Python-side
users (users.py) -> SheetsEmulator (emulator.py).
"""
from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from baton.sandbox.clock import SandboxClock
from baton.sandbox.server import Emulator, Fault, Request, Response

from .model import GoogleApiError, Spreadsheet, google_error


class SheetsState(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.clock = SandboxClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.books: dict[str, Spreadsheet] = {}
        self.tokens: dict[str, str] = {}  # access token -> client_email
        self.require_auth = True
        self._token_seq = itertools.count(1)
        self._sheet_ids = itertools.count(1_187_654_321, 7_919)
        self.requests: deque[tuple[str, str, dict[str, list[str]]]] = deque(maxlen=500)  # recent (route, path, query)
        # tests: called with the route name before a request is served (e.g. insert a row right
        # before a batchUpdate, as a person editing at that moment would)
        self.before_request: Callable[[str], None] | None = None
        # tests: called with the route name once a request has been applied, before its answer
        # is sent (a person's edit landing right after a batchUpdate, before the caller reads on)
        self.after_request: Callable[[str], None] | None = None
        self._serving = threading.local()  # the route name of the request this thread serves

    # -- plumbing

    def dispatch(self, request: Request) -> Response | Fault:
        self._serving.name = None
        try:
            answer = super().dispatch(request)
        except GoogleApiError as error:
            return error.response()
        name = self._serving.name
        if self.after_request is not None and name is not None:
            self.after_request(name)
        return answer

    def not_found(self, request: Request) -> Response:
        return Response(404, google_error(404, f"Requested entity was not found: {request.path}"))

    def _caller(self, request: Request, name: str) -> str | None:
        self.requests.append((name, request.path, request.query))
        self._serving.name = name
        if self.before_request is not None:
            self.before_request(name)
        if not self.require_auth:
            return None
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            raise GoogleApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        return self.tokens[token]

    def _book(self, spreadsheet_id: str, caller: str | None, *, drive: bool = False,
              write: bool = False) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            if drive:
                raise GoogleApiError(404, f"File not found: {spreadsheet_id}.", "notFound")
            raise GoogleApiError(404, "Requested entity was not found.")
        if book.readers is not None and caller not in book.readers:
            raise GoogleApiError(403, "The caller does not have permission")
        if write and caller in book.viewers:
            raise GoogleApiError(403, "The caller does not have permission")
        return book

    def _touch(self, book: Spreadsheet) -> None:
        book.version += 1
        book.modified = self.clock.now()
