"""The HTTPS server every emulator runs on: routing, JSON replies, call counting, fault injection.

An emulator subclasses `Emulator`, registers routes with `@route(method, pattern)` and keeps its
state in memory behind `self.lock`. Faults are queued per route name by tests and benchmarks
(`server.faults.add("query", status=429, headers={"Retry-After": "1"})`); `after=True` applies
the request before answering with the fault (a write whose answer is lost); `body_contains=b"..."`
serves a fault only to a request whose body holds those bytes (one write on a route reads share),
`url_contains="..."` only to one whose path or query does (one project's reads among several).
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from baton.sandbox.tls import LocalCA


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (timeouts)
    raw: bytes | None = None  # a malformed body sent as it is
    after: bool = False  # the request is applied first, then this answer replaces the real one
    # served only to a request whose body holds these bytes (one write among reads on a shared
    # route, such as Asana's POST /batch); other requests pass it by
    body_contains: bytes | None = None
    # served only to a request whose path or a query value holds this text (one project's GET
    # /events among a workspace's projects, one spreadsheet's reads); others pass it by
    url_contains: str | None = None

    def matches(self, request: Request | None) -> bool:
        if request is None:
            return True
        if self.body_contains is not None and self.body_contains not in request.body:
            return False
        return self.url_contains is None or self.url_contains in request.path or any(
            self.url_contains in value for values in request.query.values() for value in values)


class FaultPlan:
    """Faults queued per route name (or "*"), each served once, in order."""

    def __init__(self) -> None:
        self._queued: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()

    def add(self, route_name: str, times: int = 1, **fault: Any) -> None:
        with self._lock:
            self._queued.setdefault(route_name, []).extend(Fault(**fault) for _ in range(times))

    def take(self, route_name: str, request: Request | None = None) -> Fault | None:
        """The next fault for this request (without one: the next fault queued at all)."""
        with self._lock:
            for name in (route_name, "*"):
                queue = self._queued.get(name) or []
                for index, fault in enumerate(queue):
                    if fault.matches(request):
                        return queue.pop(index)
        return None

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()


Handler = Callable[[Any, Request], Response]


def route(method: str, pattern: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Mark an Emulator method as the handler of METHOD + a path regex with named groups."""

    def mark(fn: Handler) -> Handler:
        fn._route = (method, re.compile(pattern + r"/?$"), name or fn.__name__)  # type: ignore[attr-defined]  # a mark read back by Emulator.__init__
        return fn

    return mark


class Emulator:
    """Base of the Salesforce, Asana and Sheets emulators."""

    tool = "sandbox"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.request_log: list[tuple[str, str]] = []  # (method, path) of every request served
        self.faults = FaultPlan()
        self._routes = [
            getattr(self, attr)._route + (getattr(self, attr),)
            for attr in dir(type(self))
            if hasattr(getattr(type(self), attr), "_route")
        ]

    def dispatch(self, request: Request) -> Response | Fault:
        with self.lock:
            self.request_log.append((request.method, request.path))
        for method, pattern, name, handler in self._routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match:
                request.params = match.groupdict()
                with self.lock:
                    self.calls[name] += 1
                fault = self.faults.take(name, request)
                if fault is not None:
                    if fault.after:  # a write that lands, and an answer that is lost or mangled
                        with self.lock:
                            handler(request)
                    return fault
                with self.lock:
                    return handler(request)
        return self.not_found(request)

    def not_found(self, request: Request) -> Response:
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def server_time(self) -> datetime | None:
        """The time the `Date` header of every answer tells (a real server's clock); None: the
        wall clock, as http.server sends it."""
        return None

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    def total_calls(self) -> int:
        with self.lock:
            return sum(self.calls.values())


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer (timeouts under test) is not news


class SandboxServer:
    """Serves one Emulator over HTTPS on 127.0.0.1 in a background thread."""

    def __init__(self, emulator: Emulator, ca: LocalCA, port: int = 0) -> None:
        self.emulator = emulator
        handler = _make_handler(emulator)
        self._httpd = _QuietServer(("127.0.0.1", port), handler)
        self._httpd.socket = ca.server_context().wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"https://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            moment = emulator.server_time() if timestamp is None else None
            if moment is None:
                return super().date_time_string(timestamp)
            return format_datetime(moment.astimezone(UTC), usegmt=True)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            try:
                outcome = emulator.dispatch(request)
            except Exception as error:  # an emulator bug must show, not hang the client
                outcome = Response(500, {"error": f"sandbox error: {error!r}"})
            if isinstance(outcome, Fault):
                if outcome.delay:
                    time.sleep(outcome.delay)
                body = outcome.raw if outcome.raw is not None else _encode(outcome.body)
                self._send(outcome.status, body, outcome.headers)
            else:
                self._send(outcome.status, _encode(outcome.body), outcome.headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                if not any(k.lower() == "content-type" for k in headers):
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()
