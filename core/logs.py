"""Structured logs: JSON in production, pretty on a terminal, secrets scrubbed from every event."""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import structlog

_secrets: set[str] = set()


def register_secrets(values: Iterable[str]) -> None:
    """Values the scrubber replaces with *** wherever they appear in an event."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def scrub_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not _secrets:
        return event
    return {key: _scrub(value) for key, value in event.items()}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, BaseException):
        return _scrub(f"{type(value).__name__}: {value}")
    return value


def configure(fmt: str = "auto", level: int = logging.INFO, stream: Any = None) -> None:
    stream = stream or sys.stderr
    pretty = fmt == "pretty" or (fmt == "auto" and stream.isatty())
    renderer: Callable[..., Any] = (structlog.dev.ConsoleRenderer(
        colors=stream.isatty() and not os.environ.get("NO_COLOR"),
        exception_formatter=structlog.dev.plain_traceback) if pretty
                                    else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
